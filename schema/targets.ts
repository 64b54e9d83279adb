/**
 * The two table sets drizzle-kit generates migrations for, from an app's schema
 * module plus the engine's tables: `room` (Durable Object SQLite → drizzle/)
 * and `replica` (D1 → migrations/). Used by drizzle.config.ts, which writes a
 * small generated module per target (drizzle-kit only reads named exports).
 */
import { tablesOf } from "./define";
import * as engine from "./engine";

export type SchemaTarget = "room" | "replica";

/** `{ exportName: table }` of one target: the engine's tables and the app's. */
export function schemaTarget(app: Record<string, unknown>, target: SchemaTarget): Record<string, unknown> {
  const tables: Record<string, unknown> = tablesOf(app, target);
  const internal =
    target === "room"
      ? { _changes: engine.changes, _sync_status: engine.syncStatus, _debounced_state: engine.debouncedState.room }
      : { _replica_state: engine.replicaState, _debounced_state: engine.debouncedState.replica };
  for (const [key, value] of Object.entries(internal)) {
    if (key in tables) throw new Error(`schema export "${key}" collides with an engine table`);
    tables[key] = value;
  }
  return tables;
}
