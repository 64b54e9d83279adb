/**
 * drizzle-kit configuration of the example app: its tables (schema/app.ts) plus
 * the engine's. DB_TARGET selects `room` (default; drizzle/) or `replica`
 * (migrations/); `npm run db:generate` runs both.
 */
import * as app from "./schema/app";
import { appDrizzleConfig } from "./schema/drizzle-config";

export default appDrizzleConfig({ app, appModule: "./schema/app.ts", room: "./drizzle", replica: "./migrations" });
