/**
 * Version 2 of the schema-change test app: `items.*` and `labels.*` (CRUD)
 * and their replica reads `replica.items.*`, `replica.labels.*`, built on the
 * engine's seam exactly as a user's app is.
 */
import { createAppApi } from "../../../../src/rpc/app-api";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema";

const api = createAppApi({ schema });
const items = api.crud(schema.items);
const labels = api.crud(schema.labels);

export const app = api.defineApp({
  router: {
    items: items.procedures,
    labels: labels.procedures,
    replica: { items: items.replica, labels: labels.replica },
  },
  migrations,
});

export type AppRouter = typeof app.router;
