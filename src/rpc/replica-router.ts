/**
 * `replica.*`: reads that scale out of the room. The Worker's HTTP endpoint
 * serves them from the D1 replica (see replica-procedures.ts); over the room's
 * WebSocket they are served by the room. App developers add their own with
 * `replicaProcedure`.
 */
import { and, asc, eq, gt, type SQL } from "drizzle-orm";
import { tasks as replicaTasks } from "../../schema/replica";
import { listTasksFields, taskIdInput } from "../tasks/task-inputs";
import { router } from "./init";
import { replicaProcedure } from "./replica-procedures";

export const replicaRouter = router({
  tasks: router({
    /** Like `tasks.list`; `{ source, seq, data: { items, nextCursor } }`. */
    list: replicaProcedure(listTasksFields, {
      replica: async (scope, input) => {
        const rows = await scope.rows(replicaTasks, {
          where: (t) => {
            const filters: SQL[] = [];
            if (input.status) filters.push(eq(t.status, input.status));
            if (input.cursor != null) filters.push(gt(t.id, input.cursor));
            return and(...filters);
          },
          orderBy: (t) => [asc(t.id)],
          limit: input.limit + 1,
        });
        const more = rows.length > input.limit;
        const items = more ? rows.slice(0, input.limit) : rows;
        return { items, nextCursor: more ? items[items.length - 1]!.id : null };
      },
      room: (ctx, input) => ctx.tasks.list(input),
    }),

    /** Like `tasks.get`, with `data: null` when the task does not exist. */
    get: replicaProcedure(taskIdInput, {
      replica: async (scope, input) => (await scope.rows(replicaTasks, { where: (t) => eq(t.id, input.id), limit: 1 }))[0] ?? null,
      room: (ctx, input) => ctx.tasks.get(input.id) ?? null,
    }),
  }),
});
