/**
 * The app's tables: the one list of what the app stores. Every replicated
 * table exported here gets its room table, its D1 replica twin, change-log
 * triggers, sync, SQL readability, a change feed, live queries and replica
 * reads — nothing else to edit. The engine reads this module through the app
 * definition (src/app/index.ts) and drizzle-kit through drizzle.config.ts.
 * This is the task board's schema; your app replaces it.
 */
export { tasks, TASK_PRIORITIES, TASK_STATUSES, type TaskStatus } from "./tasks";
