/**
 * The task board: three columns of the live query's rows, a form to add a
 * task, and the card actions as optimistic mutations — each change shows at
 * once, stays when the room's push with its seq arrives, and is rolled back
 * (with a notice, see room-session.ts) when the room refuses it.
 */
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import type { Task } from "../../schema";
import { optimistic } from "../../src/client/react";
import { BOARD_INPUT, COLUMNS, withUpdate } from "./board-query";
import type { Member } from "./dev-token";
import { TaskCard } from "./task-card";
import { useTRPC } from "./trpc";

/** A stand-in row for a task the room has not created yet, under the create's temporary id. */
function pendingTask(id: number, input: { title: string }, member: Member): Task {
  const now = new Date();
  return {
    id,
    title: input.title,
    description: "",
    status: "pending",
    priority: 0,
    assignee: null,
    position: 0,
    created_by: member.sub,
    created_at: now,
    updated_at: now,
    completed_at: null,
  };
}

export function Board({ tasks, member }: { tasks: readonly Task[] | undefined; member: Member }) {
  const trpc = useTRPC();
  const [title, setTitle] = useState("");

  const create = useMutation(
    trpc.tasks.create.mutationOptions({
      ...optimistic(trpc.tasks.live, BOARD_INPUT, (rows, input, { temporaryId }) => [...rows, pendingTask(temporaryId, input, member)]),
      meta: { action: "Adding the task" },
    }),
  );
  const update = useMutation(
    trpc.tasks.update.mutationOptions({
      ...optimistic(trpc.tasks.live, BOARD_INPUT, (rows, input) => rows.map((row) => (row.id === input.id ? withUpdate(row, input) : row))),
      meta: { action: "Changing the task" },
    }),
  );
  const remove = useMutation(
    trpc.tasks.delete.mutationOptions({
      ...optimistic(trpc.tasks.live, BOARD_INPUT, (rows, input) => rows.filter((row) => row.id !== input.id)),
      meta: { action: "Deleting the task" },
    }),
  );

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = title.trim();
    if (!trimmed) return;
    setTitle("");
    create.mutate({ title: trimmed });
  };

  return (
    <section className="panel board" aria-labelledby="board-title">
      <h2 id="board-title">Tasks</h2>
      <form className="new-task" onSubmit={onSubmit}>
        <label htmlFor="new-task-title">New task</label>
        <input
          id="new-task-title"
          maxLength={500}
          autoComplete="off"
          placeholder="What needs doing?"
          value={title}
          onChange={(event) => setTitle(event.target.value)}
        />
        <button type="submit" className="primary">
          Add task
        </button>
      </form>
      {member.role === "reader" && (
        <p className="hint">You joined as a reader: the room refuses your changes. Try one to see it roll back.</p>
      )}
      {tasks === undefined ? (
        <p className="hint">Loading the board…</p>
      ) : (
        <div className="columns">
          {COLUMNS.map(({ status, title: heading }) => {
            const inColumn = tasks.filter((task) => task.status === status);
            return (
              <section key={status} className={`column column-${status}`} aria-labelledby={`column-${status}`}>
                <h3 id={`column-${status}`}>
                  {heading} <span className="count">{inColumn.length}</span>
                </h3>
                <ul className="task-list">
                  {inColumn.map((task) => (
                    <TaskCard
                      key={task.id}
                      task={task}
                      onRename={(next) => update.mutate({ id: task.id, title: next })}
                      onMove={(next) => update.mutate({ id: task.id, status: next })}
                      onDelete={() => remove.mutate({ id: task.id })}
                    />
                  ))}
                </ul>
              </section>
            );
          })}
        </div>
      )}
    </section>
  );
}
