/** Public schema barrel of the example app: table definitions and row types shared by server and client. */
export { TASK_PRIORITIES, TASK_STATUSES, type TaskStatus } from "./tasks";
import type { tasks } from "./tasks";

/** A task row as stored in a room. */
export type Task = typeof tasks.room.$inferSelect;
