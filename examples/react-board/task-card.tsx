/**
 * One task on the board: its title (click Rename to edit in place; Enter
 * saves, Escape cancels), a column picker and Delete. The card only reports
 * what the person asked for; board.tsx turns that into optimistic mutations.
 */
import { useRef, useState, type KeyboardEvent } from "react";
import type { Task, TaskStatus } from "../../schema";
import { COLUMNS } from "./board-query";

interface TaskCardProps {
  task: Task;
  onRename(title: string): void;
  onMove(status: TaskStatus): void;
  onDelete(): void;
}

export function TaskCard({ task, onRename, onMove, onDelete }: TaskCardProps) {
  const [draft, setDraft] = useState<string | null>(null);
  // Enter both saves and removes the field, whose blur would save a second time.
  const editing = useRef(false);
  // An optimistic new task has a temporary negative id until the room's row replaces it.
  const saving = task.id < 0;

  const start = () => {
    editing.current = true;
    setDraft(task.title);
  };
  const finish = (save: boolean) => {
    if (!editing.current) return;
    editing.current = false;
    const title = draft?.trim();
    setDraft(null);
    if (save && title && title !== task.title) onRename(title);
  };
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === "Enter" || event.key === "Escape") {
      event.preventDefault();
      finish(event.key === "Enter");
    }
  };

  return (
    <li className="task" data-task-id={task.id} data-status={task.status} aria-busy={saving || undefined}>
      <div className="task-text">
        {draft === null ? (
          <span className="task-title">{task.title}</span>
        ) : (
          <input
            className="task-title-input"
            aria-label="Task title"
            maxLength={500}
            autoFocus
            value={draft}
            onChange={(event) => setDraft(event.target.value)}
            onKeyDown={onKeyDown}
            onBlur={() => finish(true)}
          />
        )}
        <span className="task-meta">{saving ? "saving…" : `#${task.id} · by ${task.created_by}`}</span>
      </div>
      <div className="task-actions">
        <select
          aria-label="Move to column"
          value={task.status}
          disabled={saving}
          onChange={(event) => onMove(event.target.value as TaskStatus)}
        >
          {COLUMNS.map(({ status, title }) => (
            <option key={status} value={status}>
              {title}
            </option>
          ))}
        </select>
        <button type="button" aria-label={`Rename “${task.title}”`} disabled={saving} onClick={start}>
          Rename
        </button>
        <button type="button" className="danger" aria-label={`Delete “${task.title}”`} disabled={saving} onClick={onDelete}>
          Delete
        </button>
      </div>
    </li>
  );
}
