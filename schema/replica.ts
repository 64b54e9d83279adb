/**
 * The D1 replica's tables: the room's tables with `room_id` first in every
 * primary key and index, plus `_seq` per row. drizzle-kit reads this file
 * (DB_TARGET=replica) and writes migrations to migrations/ for
 * `wrangler d1 migrations apply`.
 */
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { debouncedState as debouncedTables } from "./debounced-state";
import { tasks as tasksTables } from "./tasks";

export const tasks = tasksTables.replica;
export const debouncedState = debouncedTables.replica;

/** Per room: the last room seq fully applied to this replica (written in the same batch as the rows). */
export const replicaState = sqliteTable("_replica_state", {
  room_id: text("room_id").primaryKey(),
  seq: integer("seq").notNull(),
  synced_at: integer("synced_at").notNull(),
});
