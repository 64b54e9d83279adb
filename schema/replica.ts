/**
 * The D1 replica's tables: the room's tables with `room_id` first in every
 * primary key and index. drizzle-kit reads this file (DB_TARGET=replica) and
 * writes migrations to migrations/ for `wrangler d1 migrations apply`.
 */
import { debouncedState as debouncedTables } from "./debounced-state";
import { tasks as tasksTables } from "./tasks";

export const tasks = tasksTables.replica;
export const debouncedState = debouncedTables.replica;
