/**
 * The task board: the example app built on nanotypeDB's seam. Its tables are
 * in schema/app.ts, its procedures here, its services in task-store.ts. The
 * engine reaches the app through this module only (src/worker.ts hands it to
 * `createNanotype`). Seed-protocol methods name the board's procedures.
 */
import migrations from "../../drizzle/migrations.js";
import { api } from "./api";
import { replicaRouter } from "./replica-router";
import { tasksRouter } from "./tasks-router";

export const app = api.defineApp({
  router: { tasks: tasksRouter, replica: replicaRouter },
  migrations,
  seedMethods: {
    createTask: { path: "tasks.create", type: "mutation" },
    listTasks: { path: "tasks.list", type: "query" },
    getTask: { path: "tasks.get", type: "query" },
    updateTask: { path: "tasks.update", type: "mutation" },
    completeTask: { path: "tasks.complete", type: "mutation" },
    deleteTask: { path: "tasks.delete", type: "mutation" },
  },
});

/** The type of the board's API. Import it as a type only. */
export type AppRouter = typeof app.router;
