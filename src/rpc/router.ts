/**
 * The app router: every procedure a room serves, on every transport.
 * Public: `AppRouter` is the type clients import.
 */
import { router } from "./init";
import { sessionRouter } from "./session-router";
import { sqlRouter } from "./sql-router";
import { tasksRouter } from "./tasks-router";

export const appRouter = router({
  session: sessionRouter,
  tasks: tasksRouter,
  sql: sqlRouter,
});

/** The type of the room's API. Import it as a type only. */
export type AppRouter = typeof appRouter;
