/**
 * The `tasks.*` procedures of the task board, written by hand on the app's
 * builders (the board's rules — `completed_at` follows the status, `complete`
 * — are more than CRUD). Thin: validate (zod inputs), check the role
 * (builders), call the TaskStore service, stamp the seq.
 */
import { TRPCError } from "@trpc/server";
import type { Task } from "../../schema";
import { tasks } from "../../schema/tasks";
import { api } from "./api";
import { createTaskInput, listTasksInput, liveTasksInput, taskIdInput, taskStatsInput, updateTaskInput } from "./task-inputs";

const { router, readerProcedure, writerProcedure, committed, changesProcedure, liveProcedure, windowProcedure } = api;

function found(task: Task | undefined, id: number): Task {
  if (!task) throw new TRPCError({ code: "NOT_FOUND", message: `task ${id} does not exist` });
  return task;
}

export const tasksRouter = router({
  create: writerProcedure
    .input(createTaskInput)
    .mutation(({ ctx, input }) => committed(ctx, ctx.services.tasks.create(input, ctx.identity.sub))),

  get: readerProcedure.input(taskIdInput).query(({ ctx, input }) => found(ctx.services.tasks.get(input.id), input.id)),

  list: readerProcedure.input(listTasksInput).query(({ ctx, input }) => ctx.services.tasks.list(input)),

  update: writerProcedure
    .input(updateTaskInput)
    .mutation(({ ctx, input }) => committed(ctx, found(ctx.services.tasks.update(input), input.id))),

  complete: writerProcedure
    .input(taskIdInput)
    .mutation(({ ctx, input }) => committed(ctx, found(ctx.services.tasks.update({ id: input.id, status: "completed" }), input.id))),

  delete: writerProcedure.input(taskIdInput).mutation(({ ctx, input }) => {
    if (!ctx.services.tasks.delete(input.id)) throw new TRPCError({ code: "NOT_FOUND", message: `task ${input.id} does not exist` });
    return committed(ctx, { id: input.id, deleted: true as const });
  }),

  /** Every task insert, update and delete, resumable by seq (see docs/live-data.md). */
  changes: changesProcedure(tasks),

  /**
   * The first `limit` tasks (by id), optionally of one status: the window, then
   * after every commit that changes it only what changed (docs/live-data.md).
   */
  live: windowProcedure(tasks, liveTasksInput, (input) => ({ filters: { status: input.status }, limit: input.limit })),

  /** Live counters: how many tasks per status (of one assignee, if given), re-sent whole after every commit that touches tasks. */
  stats: liveProcedure([tasks], taskStatsInput, (ctx, input) => ctx.services.tasks.stats(input.assignee)),
});
