/**
 * The `tasks` table of the task board, defined once. The room owns the rows;
 * the D1 replica holds the same rows tagged with `room_id`.
 */
import { integer, text } from "drizzle-orm/sqlite-core";
import { replicatedTable } from "./define";

/** Task workflow states, in board order. */
export const TASK_STATUSES = ["pending", "in_progress", "completed"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Priorities: 0 none, 1 low, 2 medium, 3 high. */
export const TASK_PRIORITIES = [0, 1, 2, 3] as const;

export const tasks = replicatedTable(
  "tasks",
  () => ({
    title: text("title").notNull(),
    description: text("description").notNull().default(""),
    status: text("status", { enum: TASK_STATUSES }).notNull().default("pending"),
    priority: integer("priority").notNull().default(0),
    /** User id the task is assigned to, if any. */
    assignee: text("assignee"),
    /** Position on the board within its status column (smaller first). */
    position: integer("position").notNull().default(0),
    /** User id that created the task (the authenticated caller). */
    created_by: text("created_by").notNull(),
    created_at: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    updated_at: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
    /** Set when status becomes `completed`, cleared when it leaves it. */
    completed_at: integer("completed_at", { mode: "timestamp_ms" }),
  }),
  [
    { name: "status", columns: ["status", "id"] },
    { name: "updated", columns: ["updated_at", "id"] },
  ],
);
