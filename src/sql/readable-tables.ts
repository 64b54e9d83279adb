/**
 * Which of a room's tables read-only SQL may read: the app's replicated
 * tables and the debounced writer's state. Everything else (the change log,
 * migration bookkeeping, SQLite's and the platform's tables) is internal.
 */
import { REPLICATED_TABLES } from "../../schema/replicated";

/** The debounced writer's table; readable once that feature has created it. */
export const DEBOUNCED_STATE_TABLE = "_debounced_state";

/** Tables read-only SQL may read (their indexes too). */
export const READABLE_TABLES: readonly string[] = [...REPLICATED_TABLES.map((table) => table.name), DEBOUNCED_STATE_TABLE];
