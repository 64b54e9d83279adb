/**
 * The engine's own tables, beside every app's. In the room: `_changes` (the
 * per-room change log: one row per insert, update or delete on a replicated
 * table, written by triggers in the same transaction as the write, see
 * src/live/change-log.ts; never replicated, never readable through read-only
 * SQL), `_sync_status`, and the debounced writer's replicated
 * `_debounced_state`. In the D1 replica: `_replica_state` and the twin of
 * `_debounced_state`. `schemaTargets` (schema/targets.ts) adds them to the app's.
 */
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
export { debouncedState } from "./debounced-state";

/** The operations the change log records. */
export const CHANGE_OPS = ["insert", "update", "delete"] as const;
export type ChangeOp = (typeof CHANGE_OPS)[number];

export const changes = sqliteTable("_changes", {
  /** Monotonic per room; AUTOINCREMENT so a seq is never reused, even after trimming. */
  seq: integer("seq").primaryKey({ autoIncrement: true }),
  /** The table written. */
  tbl: text("tbl").notNull(),
  op: text("op", { enum: CHANGE_OPS }).notNull(),
  /** Primary key (`id`) of the row written. */
  pk: integer("pk").notNull(),
  /** Commit time, ms since the epoch. */
  at: integer("at").notNull(),
});

/**
 * The sync engine's durable state: one row (id = 1). Counters survive
 * hibernation and eviction; `replicated_seq` is the watermark the D1 replica
 * has confirmed.
 */
export const syncStatus = sqliteTable("_sync_status", {
  id: integer("id").primaryKey(),
  /** The room's name (its `room_id` in the replica), recorded on first use. */
  room: text("room"),
  replicated_seq: integer("replicated_seq").notNull().default(0),
  /** 1 when the next push must be a full resync (first start, log gap, forceSyncAll). */
  needs_full_resync: integer("needs_full_resync").notNull().default(1),
  total_syncs: integer("total_syncs").notNull().default(0),
  sync_errors: integer("sync_errors").notNull().default(0),
  consecutive_failures: integer("consecutive_failures").notNull().default(0),
  last_sync_at: integer("last_sync_at"),
  last_attempt_at: integer("last_attempt_at"),
  next_attempt_at: integer("next_attempt_at"),
  last_error: text("last_error"),
});

/** Per room: the last room seq fully applied to this replica (written in the same batch as the rows). */
export const replicaState = sqliteTable("_replica_state", {
  room_id: text("room_id").primaryKey(),
  seq: integer("seq").notNull(),
  synced_at: integer("synced_at").notNull(),
});
