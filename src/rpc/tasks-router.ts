/**
 * The `tasks.*` procedures of the task board. Thin: validate (zod inputs),
 * check the role (procedure builders), call the TaskStore, stamp the seq.
 */
import { TRPCError } from "@trpc/server";
import type { Task } from "../../schema";
import { createTaskInput, listTasksInput, liveTasksInput, taskIdInput, updateTaskInput } from "../tasks/task-inputs";
import { readerProcedure, router, writerProcedure } from "./init";
import { changesProcedure, committed, liveProcedure } from "./live-procedures";

function found(task: Task | undefined, id: number): Task {
  if (!task) throw new TRPCError({ code: "NOT_FOUND", message: `task ${id} does not exist` });
  return task;
}

export const tasksRouter = router({
  create: writerProcedure.input(createTaskInput).mutation(({ ctx, input }) => committed(ctx, ctx.tasks.create(input, ctx.identity.sub))),

  get: readerProcedure.input(taskIdInput).query(({ ctx, input }) => found(ctx.tasks.get(input.id), input.id)),

  list: readerProcedure.input(listTasksInput).query(({ ctx, input }) => ctx.tasks.list(input)),

  update: writerProcedure.input(updateTaskInput).mutation(({ ctx, input }) => committed(ctx, found(ctx.tasks.update(input), input.id))),

  complete: writerProcedure
    .input(taskIdInput)
    .mutation(({ ctx, input }) => committed(ctx, found(ctx.tasks.update({ id: input.id, status: "completed" }), input.id))),

  delete: writerProcedure.input(taskIdInput).mutation(({ ctx, input }) => {
    if (!ctx.tasks.delete(input.id)) throw new TRPCError({ code: "NOT_FOUND", message: `task ${input.id} does not exist` });
    return committed(ctx, { id: input.id, deleted: true as const });
  }),

  /** Every task insert, update and delete, resumable by seq (see docs/live-data.md). */
  changes: changesProcedure<Task>("tasks", (ctx, id) => ctx.tasks.get(id) ?? null),

  /** The first `limit` tasks (by id), optionally of one status, re-sent after every commit that touches tasks. */
  live: liveProcedure(
    ["tasks"],
    liveTasksInput,
    (ctx, input) => ctx.tasks.list({ limit: input.limit, cursor: null, ...(input.status ? { status: input.status } : {}) }).items,
  ),
});
