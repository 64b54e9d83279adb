/**
 * The room's tables (Durable Object SQLite). drizzle-kit reads this file
 * (DB_TARGET=room) and writes migrations to drizzle/.
 */
import { debouncedState as debouncedTables } from "./debounced-state";
import { tasks as tasksTables } from "./tasks";

export const tasks = tasksTables.room;
export const debouncedState = debouncedTables.room;
export { changes, syncStatus } from "./internal";
