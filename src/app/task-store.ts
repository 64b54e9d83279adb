/**
 * Task rows in the room's SQLite, through Drizzle. Used by the tasks router;
 * receives the database from the room. Every write is logged by the change-log
 * triggers, so nothing here announces changes.
 */
import { and, asc, count, eq, gt, isNull, type SQL } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Task } from "../../schema";
import { TASK_STATUSES, tasks as taskTables, type TaskStatus } from "../../schema/tasks";
import type { CreateTaskInput, ListTasksInput, UpdateTaskInput } from "./task-inputs";

const tasks = taskTables.room;

export interface TaskPage {
  items: Task[];
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: number | null;
}

/** How many tasks there are, in all and per status. */
export interface TaskStats {
  total: number;
  byStatus: Record<TaskStatus, number>;
}

export class TaskStore {
  constructor(
    private readonly db: DrizzleSqliteDODatabase<{ tasks: typeof tasks }>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  create(input: CreateTaskInput, createdBy: string): Task {
    const at = this.now();
    const status = input.status ?? "pending";
    const task = this.db
      .insert(tasks)
      .values({
        title: input.title,
        description: input.description ?? "",
        status,
        priority: input.priority ?? 0,
        assignee: input.assignee ?? null,
        position: input.position ?? 0,
        created_by: createdBy,
        created_at: at,
        updated_at: at,
        completed_at: status === "completed" ? at : null,
      })
      .returning()
      .get();
    return task;
  }

  get(id: number): Task | undefined {
    return this.db.select().from(tasks).where(eq(tasks.id, id)).get();
  }

  list(input: ListTasksInput): TaskPage {
    const filters: SQL[] = [];
    if (input.status) filters.push(eq(tasks.status, input.status));
    if (input.cursor != null) filters.push(gt(tasks.id, input.cursor));
    const rows = this.db
      .select()
      .from(tasks)
      .where(and(...filters))
      .orderBy(asc(tasks.id))
      .limit(input.limit + 1)
      .all();
    const more = rows.length > input.limit;
    const items = more ? rows.slice(0, input.limit) : rows;
    return { items, nextCursor: more ? items[items.length - 1]!.id : null };
  }

  /** Counts tasks per status (of one assignee when given; `null`: unassigned). */
  stats(assignee?: string | null): TaskStats {
    const where = assignee === undefined ? undefined : assignee === null ? isNull(tasks.assignee) : eq(tasks.assignee, assignee);
    const rows = this.db.select({ status: tasks.status, count: count() }).from(tasks).where(where).groupBy(tasks.status).all();
    const byStatus = Object.fromEntries(TASK_STATUSES.map((status) => [status, 0])) as Record<TaskStatus, number>;
    for (const row of rows) byStatus[row.status] = row.count;
    return { total: rows.reduce((sum, row) => sum + row.count, 0), byStatus };
  }

  /** Applies the given fields; returns undefined when the task does not exist. */
  update(input: UpdateTaskInput): Task | undefined {
    const { id, ...fields } = input;
    const at = this.now();
    const changes: Partial<typeof tasks.$inferInsert> = { updated_at: at };
    if (fields.title !== undefined) changes.title = fields.title;
    if (fields.description !== undefined) changes.description = fields.description;
    if (fields.priority !== undefined) changes.priority = fields.priority;
    if (fields.assignee !== undefined) changes.assignee = fields.assignee;
    if (fields.position !== undefined) changes.position = fields.position;
    if (fields.status !== undefined) {
      const current = this.get(id);
      if (!current) return undefined;
      changes.status = fields.status;
      if (fields.status !== current.status) changes.completed_at = fields.status === "completed" ? at : null;
    }
    const task = this.db.update(tasks).set(changes).where(eq(tasks.id, id)).returning().get();
    return task;
  }

  /** Deletes the task; returns false when it did not exist. */
  delete(id: number): boolean {
    const deleted = this.db.delete(tasks).where(eq(tasks.id, id)).returning({ id: tasks.id }).get();
    return deleted !== undefined;
  }
}
