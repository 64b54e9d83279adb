/**
 * drizzle-kit configuration of the notes app (run from the repository root):
 * `DB_TARGET=room|replica drizzle-kit generate --config examples/notes/drizzle.config.ts`,
 * or `npm run db:generate:notes` for both.
 */
import { appDrizzleConfig } from "../../schema/drizzle-config";
import * as app from "./schema";

export default appDrizzleConfig({
  app,
  appModule: "./examples/notes/schema.ts",
  room: "./examples/notes/drizzle",
  replica: "./examples/notes/migrations",
});
