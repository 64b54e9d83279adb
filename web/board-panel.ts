/**
 * The task board: create, edit, complete, reopen, move and delete tasks. The
 * columns are one `tasks.live` subscription, kept as a materialized list by
 * `watchWindow` (the room sends the list, then only what each commit changed,
 * and resumes with a diff after a reconnect), so other people's changes appear
 * without any refresh.
 */
import type { Task, TaskStatus } from "../schema";
import { watchWindow } from "../src/client/live-window";
import { byId, h } from "./dom";
import { attempt } from "./notices";
import type { Session } from "./session";

/** The live query's size: the room's maximum (MAX_LIVE_LIMIT). */
const BOARD_LIMIT = 500;

const COLUMNS: ReadonlyArray<{ status: TaskStatus; title: string }> = [
  { status: "pending", title: "To do" },
  { status: "in_progress", title: "In progress" },
  { status: "completed", title: "Done" },
];

/** One task's card and the controls in it. */
interface Card {
  element: HTMLLIElement;
  done: HTMLInputElement;
  title: HTMLElement;
  meta: HTMLElement;
  move: HTMLSelectElement;
  edit: HTMLButtonElement;
  remove: HTMLButtonElement;
}

export function mountBoard(session: Session): () => void {
  const { client, member } = session;
  const canWrite = member.role !== "reader";
  const form = byId<HTMLFormElement>("new-task");
  const input = byId<HTMLInputElement>("new-task-title");
  const columns = byId("columns");
  const summary = byId("board-summary");
  const cards = new Map<number, Card>();
  const lists = new Map<TaskStatus, HTMLUListElement>();
  const counts = new Map<TaskStatus, HTMLElement>();

  columns.replaceChildren(
    ...COLUMNS.map(({ status, title }) => {
      const list = h("ul", { class: "task-list", "aria-labelledby": `column-${status}` });
      const count = h("span", { class: "count" }, "0");
      lists.set(status, list);
      counts.set(status, count);
      return h("section", { class: `column column-${status}` }, h("h3", { id: `column-${status}` }, title, " ", count), list);
    }),
  );

  form.querySelector("fieldset")!.disabled = !canWrite;
  if (!canWrite) input.placeholder = "Readers can look but not change tasks";
  const onSubmit = async (event: SubmitEvent) => {
    event.preventDefault();
    const title = input.value.trim();
    if (!title) return input.focus();
    input.value = "";
    const created = await attempt("Creating the task", () => client.tasks.create.mutate({ title }));
    if (!created) input.value ||= title;
  };
  form.addEventListener("submit", onSubmit);

  const subscription = watchWindow(
    client.tasks.live,
    { limit: BOARD_LIMIT },
    {
      onRows: (tasks) => render(tasks),
      onError: (error) =>
        summary.replaceChildren(
          `The board stopped updating: ${error instanceof Error ? error.message : String(error)}. Reload the page to retry.`,
        ),
    },
  );

  function render(tasks: readonly Task[]): void {
    const seen = new Set<number>();
    const byStatus = new Map<TaskStatus, HTMLLIElement[]>(COLUMNS.map(({ status }) => [status, []]));
    for (const task of tasks) {
      seen.add(task.id);
      let card = cards.get(task.id);
      if (!card) {
        card = createCard(task.id);
        cards.set(task.id, card);
      }
      updateCard(card, task);
      byStatus.get(task.status)?.push(card.element);
    }
    for (const [id, card] of cards) {
      if (!seen.has(id)) {
        card.element.remove();
        cards.delete(id);
      }
    }
    for (const [status, wanted] of byStatus) {
      const list = lists.get(status)!;
      // Move only cards that are out of place, so a focused control keeps its focus.
      wanted.forEach((card, index) => {
        if (list.children[index] !== card) list.insertBefore(card, list.children[index] ?? null);
      });
      counts.get(status)!.textContent = String(wanted.length);
    }
    summary.textContent =
      tasks.length === 0
        ? "No tasks yet. Add one above; everyone in the room sees it at once."
        : `${tasks.length} task${tasks.length === 1 ? "" : "s"}${tasks.length === BOARD_LIMIT ? ` (the first ${BOARD_LIMIT} are shown)` : ""}.`;
  }

  function createCard(id: number): Card {
    const done = h("input", { type: "checkbox", class: "task-done", "aria-label": "Done", disabled: !canWrite });
    const title = h("span", { class: "task-title" });
    const meta = h("span", { class: "task-meta" });
    const move = h(
      "select",
      { class: "task-status", "aria-label": "Move to column", disabled: !canWrite },
      ...COLUMNS.map(({ status, title: label }) => h("option", { value: status }, label)),
    );
    const edit = h("button", { type: "button", class: "task-edit", disabled: !canWrite }, "Edit");
    const remove = h("button", { type: "button", class: "task-delete danger", disabled: !canWrite }, "Delete");
    const card = h(
      "li",
      { class: "task", "data-task-id": id },
      done,
      h("div", { class: "task-text" }, title, meta),
      h("div", { class: "task-actions" }, move, edit, remove),
    );

    const busy = async (what: string, call: () => Promise<unknown>): Promise<boolean> => {
      card.setAttribute("aria-busy", "true");
      const ok = (await attempt(what, async () => (await call(), true))) === true;
      card.removeAttribute("aria-busy");
      return ok;
    };
    done.addEventListener("change", () =>
      busy(done.checked ? "Completing the task" : "Reopening the task", () =>
        done.checked ? client.tasks.complete.mutate({ id }) : client.tasks.update.mutate({ id, status: "pending" }),
      ),
    );
    move.addEventListener("change", () =>
      busy("Moving the task", () => client.tasks.update.mutate({ id, status: move.value as TaskStatus })),
    );
    remove.addEventListener("click", () => busy("Deleting the task", () => client.tasks.delete.mutate({ id })));
    const controls: Card = { element: card, done, title, meta, move, edit, remove };
    edit.addEventListener("click", () => startEditing(controls, id, busy));
    return controls;
  }

  function updateCard(card: Card, task: Task): void {
    card.element.dataset["status"] = task.status;
    if (!card.element.classList.contains("editing")) card.title.textContent = task.title;
    card.meta.textContent = `#${task.id} · by ${task.created_by}`;
    card.done.checked = task.status === "completed";
    card.move.value = task.status;
    card.edit.setAttribute("aria-label", `Edit “${task.title}”`);
    card.remove.setAttribute("aria-label", `Delete “${task.title}”`);
  }

  return () => {
    subscription.unsubscribe();
    form.removeEventListener("submit", onSubmit);
  };

  /** Swaps the title for a text field: Enter or leaving the field saves, Escape cancels. */
  function startEditing(
    { element: card, title, edit }: Card,
    id: number,
    busy: (what: string, call: () => Promise<unknown>) => Promise<boolean>,
  ): void {
    if (card.classList.contains("editing")) return;
    const current = title.textContent ?? "";
    const field = h("input", { type: "text", class: "task-title-input", value: current, "aria-label": "Task title", maxlength: 500 });
    card.classList.add("editing");
    title.replaceWith(field);
    field.focus();
    field.select();
    let finished = false;
    const finish = async (save: boolean) => {
      if (finished) return;
      finished = true;
      const next = field.value.trim();
      field.replaceWith(title);
      card.classList.remove("editing");
      edit.focus();
      if (save && next && next !== current) {
        title.textContent = next;
        if (!(await busy("Renaming the task", () => client.tasks.update.mutate({ id, title: next })))) title.textContent = current;
      }
    };
    field.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== "Escape") return;
      // Focus returns to the Edit button: without this the same Enter would click it again.
      event.preventDefault();
      void finish(event.key === "Enter");
    });
    field.addEventListener("blur", () => void finish(true));
  }
}
