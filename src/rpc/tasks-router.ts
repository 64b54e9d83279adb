/**
 * The `tasks.*` procedures of the task board. Thin: validate (zod inputs),
 * check the role (procedure builders), call the TaskStore.
 */
import { TRPCError } from "@trpc/server";
import { on } from "node:events";
import type { Task } from "../../schema";
import { createTaskInput, listTasksInput, taskIdInput, updateTaskInput } from "../tasks/task-inputs";
import { TASK_CHANGE_EVENT, type TaskChange } from "../tasks/task-store";
import { readerProcedure, router, writerProcedure } from "./init";

function found(task: Task | undefined, id: number): Task {
  if (!task) throw new TRPCError({ code: "NOT_FOUND", message: `task ${id} does not exist` });
  return task;
}

export const tasksRouter = router({
  create: writerProcedure.input(createTaskInput).mutation(({ ctx, input }) => ctx.tasks.create(input, ctx.identity.sub)),

  get: readerProcedure.input(taskIdInput).query(({ ctx, input }) => found(ctx.tasks.get(input.id), input.id)),

  list: readerProcedure.input(listTasksInput).query(({ ctx, input }) => ctx.tasks.list(input)),

  update: writerProcedure.input(updateTaskInput).mutation(({ ctx, input }) => found(ctx.tasks.update(input), input.id)),

  complete: writerProcedure
    .input(taskIdInput)
    .mutation(({ ctx, input }) => found(ctx.tasks.update({ id: input.id, status: "completed" }), input.id)),

  delete: writerProcedure.input(taskIdInput).mutation(({ ctx, input }) => {
    if (!ctx.tasks.delete(input.id)) throw new TRPCError({ code: "NOT_FOUND", message: `task ${input.id} does not exist` });
    return { id: input.id, deleted: true as const };
  }),

  /**
   * Every task change made in this room from now on. In-memory: it does not
   * survive the room hibernating (the live-data change feed replaces it).
   */
  onChange: readerProcedure.subscription(async function* ({ ctx, signal }) {
    for await (const [change] of on(ctx.tasks.events, TASK_CHANGE_EVENT, { signal })) {
      yield change as TaskChange;
    }
  }),
});
