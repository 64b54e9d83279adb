/**
 * The list of replicated tables: every table here gets change-log triggers in
 * the room, a change feed, and a twin in the D1 replica. Add new app tables here.
 */
import { debouncedState } from "./debounced-state";
import { tasks } from "./tasks";

export const REPLICATED_TABLES = [tasks, debouncedState] as const;

/** Names of the replicated tables. */
export type ReplicatedTableName = (typeof REPLICATED_TABLES)[number]["name"];
