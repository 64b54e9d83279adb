/**
 * `replica.tasks.*`: the board's reads that scale out of the room. Each is
 * written once against a TableReader: the Worker's HTTP endpoint serves it
 * from the D1 replica (room scope added by the engine), every other transport
 * from the room itself.
 */
import { and, asc, eq, gt, type SQL } from "drizzle-orm";
import { tasks } from "../../schema/tasks";
import { api } from "./api";
import { listTasksFields, taskIdInput } from "./task-inputs";

const { router, replicaProcedure } = api;

export const replicaRouter = router({
  tasks: router({
    /** Like `tasks.list`; `{ source, seq, data: { items, nextCursor } }`. */
    list: replicaProcedure(listTasksFields, async (reader, input) => {
      const rows = await reader.rows(tasks, {
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
    }),

    /** Like `tasks.get`, with `data: null` when the task does not exist. */
    get: replicaProcedure(
      taskIdInput,
      async (reader, input) => (await reader.rows(tasks, { where: (t) => eq(t.id, input.id), limit: 1 }))[0] ?? null,
    ),
  }),
});
