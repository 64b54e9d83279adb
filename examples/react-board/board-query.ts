/**
 * The board's live query, named once: the input of `tasks.live` that the
 * board reads and that every optimistic change writes into (the same input
 * is the same TanStack Query key), and the columns it shows.
 */
import type { Task, TaskStatus } from "../../schema";
import type { UpdateTaskInput } from "../../src/app/task-inputs";

/** Up to 200 tasks by id (the room allows up to MAX_LIVE_LIMIT = 500). */
export const BOARD_INPUT = { limit: 200 };

export const COLUMNS: ReadonlyArray<{ status: TaskStatus; title: string }> = [
  { status: "pending", title: "To do" },
  { status: "in_progress", title: "In progress" },
  { status: "completed", title: "Done" },
];

/** `row` with an update's fields applied; fields the update leaves out (undefined) keep their value. */
export function withUpdate<Row extends Task>(row: Row, { id: _id, ...changes }: UpdateTaskInput): Row {
  const given = Object.entries(changes).filter(([, value]) => value !== undefined);
  return { ...row, ...Object.fromEntries(given) };
}
