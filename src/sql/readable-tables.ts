/**
 * Which of a room's tables read-only SQL may read: the replicated tables (the
 * app's tables and the debounced writer's `_debounced_state`). Everything else
 * (the change log, migration bookkeeping, SQLite's and the platform's tables)
 * is internal.
 */
import { REPLICATED_TABLES } from "../../schema/replicated";

/** Tables read-only SQL may read (their indexes too). */
export const READABLE_TABLES: readonly string[] = REPLICATED_TABLES.map((table) => table.name);
