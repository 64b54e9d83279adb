/**
 * Validated inputs of the task procedures (zod). Statuses and priorities come
 * from schema/; limits from lib/limits. Error messages name the field.
 */
import { z } from "zod";
import { lastEventIdInput } from "../rpc/live-procedures";
import { TASK_PRIORITIES, TASK_STATUSES } from "../../schema/tasks";
import { DEFAULT_LIVE_LIMIT, DEFAULT_PAGE_SIZE, MAX_LIVE_LIMIT, MAX_PAGE_SIZE, MAX_USER_ID_CHARS } from "../lib/limits";

/** Longest task title, in characters. */
export const MAX_TASK_TITLE_CHARS = 500;

/** Longest task description, in characters. */
export const MAX_TASK_DESCRIPTION_CHARS = 10_000;

const title = z
  .string({ error: "title must be a string" })
  .trim()
  .min(1, { error: "title must not be empty" })
  .max(MAX_TASK_TITLE_CHARS, { error: `title must be at most ${MAX_TASK_TITLE_CHARS} characters` });
const description = z
  .string()
  .max(MAX_TASK_DESCRIPTION_CHARS, { error: `description must be at most ${MAX_TASK_DESCRIPTION_CHARS} characters` });
const status = z.enum(TASK_STATUSES, { error: `status must be one of ${TASK_STATUSES.join(", ")}` });
const priority = z
  .number()
  .int()
  .min(TASK_PRIORITIES[0])
  .max(TASK_PRIORITIES[TASK_PRIORITIES.length - 1]!, { error: "priority must be 0 (none) to 3 (high)" });
const assignee = z.string().min(1).max(MAX_USER_ID_CHARS).nullable();
const position = z.number().int().min(-1_000_000_000).max(1_000_000_000);

/** A task id: a positive integer. */
export const taskId = z.number({ error: "id must be a number" }).int().positive();

export const createTaskInput = z.strictObject({
  title,
  description: description.optional(),
  status: status.optional(),
  priority: priority.optional(),
  assignee: assignee.optional(),
  position: position.optional(),
});

export const taskIdInput = z.strictObject({ id: taskId });

export const updateTaskInput = z
  .strictObject({
    id: taskId,
    title: title.optional(),
    description: description.optional(),
    status: status.optional(),
    priority: priority.optional(),
    assignee: assignee.optional(),
    position: position.optional(),
  })
  .refine((input) => Object.keys(input).some((key) => key !== "id"), {
    error: "update needs at least one field besides id",
  });

/** The fields of a task listing (also used by the replica read `replica.tasks.list`). */
export const listTasksFields = z.strictObject({
  status: status.optional(),
  /** Page size, 1–MAX_PAGE_SIZE. */
  limit: z
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE, { error: `limit must be at most ${MAX_PAGE_SIZE}` })
    .default(DEFAULT_PAGE_SIZE),
  /** `nextCursor` of the previous page (keyset pagination by id, ascending). */
  cursor: taskId.nullish(),
});

export const listTasksInput = listTasksFields.default({ limit: DEFAULT_PAGE_SIZE });

const lastEventId = lastEventIdInput;

/** Input of `tasks.live`: the first `limit` tasks by id, optionally of one status. */
export const liveTasksInput = z
  .strictObject({
    status: status.optional(),
    limit: z
      .number()
      .int()
      .min(1)
      .max(MAX_LIVE_LIMIT, { error: `limit must be at most ${MAX_LIVE_LIMIT}` })
      .default(DEFAULT_LIVE_LIMIT),
    lastEventId,
  })
  .default({ limit: DEFAULT_LIVE_LIMIT });

/** Input of `tasks.stats`: counts of all tasks, or of one assignee's (`null`: the unassigned). */
export const taskStatsInput = z.strictObject({ assignee: assignee.optional(), lastEventId }).default({});

export type CreateTaskInput = z.infer<typeof createTaskInput>;
export type UpdateTaskInput = z.infer<typeof updateTaskInput>;
export type ListTasksInput = z.infer<typeof listTasksInput>;
export type LiveTasksInput = z.infer<typeof liveTasksInput>;
