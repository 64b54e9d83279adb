/**
 * Internal room tables. `_changes` is the per-room change log: one row per
 * insert, update or delete on a replicated table, written by triggers in the
 * same transaction as the write (see src/live/change-log.ts). Never replicated,
 * never readable through read-only SQL.
 */
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

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
