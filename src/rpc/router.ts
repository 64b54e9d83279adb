/**
 * The app router: every procedure a room serves, on every transport.
 * Public: `AppRouter` is the type clients import.
 */
import { router } from "./init";
import { debouncedRouter } from "./debounced-router";
import { memoryRouter } from "./memory-router";
import { presenceRouter } from "./presence-router";
import { replicaRouter } from "./replica-router";
import { sessionRouter } from "./session-router";
import { syncRouter } from "./sync-router";
import { sqlRouter } from "./sql-router";
import { tasksRouter } from "./tasks-router";

export const appRouter = router({
  session: sessionRouter,
  tasks: tasksRouter,
  presence: presenceRouter,
  memory: memoryRouter,
  debounced: debouncedRouter,
  sql: sqlRouter,
  sync: syncRouter,
  replica: replicaRouter,
});

/** The type of the room's API. Import it as a type only. */
export type AppRouter = typeof appRouter;
