/** The room's Drizzle handle (durable-sqlite) over a schema: what features and procedures receive from the room. */
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";

/** The room's SQLite through Drizzle, typed by the app's room tables (any app's by default). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the engine is generic over every app's schema
export type RoomDatabase<TSchema extends Record<string, unknown> = Record<string, any>> = DrizzleSqliteDODatabase<TSchema>;
