/**
 * Version 1 of the schema-change test app: `items.*` (CRUD) and
 * `replica.items.*` (replica reads), built on the engine's seam exactly as a
 * user's app is.
 */
import { createAppApi } from "../../../../src/rpc/app-api";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema";

const api = createAppApi({ schema });
const items = api.crud(schema.items);

export const app = api.defineApp({
  router: { items: items.procedures, replica: { items: items.replica } },
  migrations,
});

export type AppRouter = typeof app.router;
