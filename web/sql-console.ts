/**
 * The SQL console (admins): read-only queries through `sql.query`, the result
 * as a table with its size and cost, the limits, and refusals in plain words.
 * Ctrl+Enter (⌘+Enter) runs the query from the editor.
 */
import { MAX_SQL_CHARS, MAX_SQL_RESULT_BYTES, MAX_SQL_RESULT_ROWS } from "../src/protocol/wire-limits";
import { byId, h } from "./dom";
import { describeError } from "./notices";
import type { Session } from "./session";

export const EXAMPLE_SQL = `SELECT status, COUNT(*) AS tasks, ROUND(AVG(LENGTH(title)), 1) AS avg_title_length
FROM tasks
GROUP BY status
ORDER BY tasks DESC`;

type Cell = string | number | null | { blob: string };

export function mountSqlConsole(session: Session): () => void {
  const { client, member } = session;
  const form = byId<HTMLFormElement>("sql-form");
  const editor = byId<HTMLTextAreaElement>("sql-text");
  const run = byId<HTMLButtonElement>("sql-run");
  const result = byId("sql-result");
  const error = byId("sql-error");
  const isAdmin = member.role === "admin";

  editor.value ||= EXAMPLE_SQL;
  editor.maxLength = MAX_SQL_CHARS;
  byId("sql-limits").textContent =
    `Read-only: one SELECT, WITH … SELECT or VALUES over tasks and _debounced_state. ` +
    `At most ${MAX_SQL_CHARS.toLocaleString("en")} characters; results are cut at ` +
    `${MAX_SQL_RESULT_ROWS.toLocaleString("en")} rows or ${MAX_SQL_RESULT_BYTES / 1_048_576} MiB.`;
  byId("sql-note").hidden = isAdmin;
  run.disabled = !isAdmin;
  editor.readOnly = !isAdmin;

  let running = false;
  const execute = async () => {
    if (running || !isAdmin) return;
    running = true;
    run.disabled = true;
    run.textContent = "Running…";
    form.setAttribute("aria-busy", "true");
    error.hidden = true;
    try {
      const answer = await client.sql.query.query({ sql: editor.value });
      result.replaceChildren(
        h(
          "p",
          { class: "sql-summary", role: "status" },
          `${plural(answer.rowCount, "row")} · ${answer.elapsedMs} ms · ${plural(answer.rowsRead, "row")} read`,
          answer.truncated ? h("strong", {}, " · cut at the result limit") : "",
        ),
        table(answer.columns, answer.rows),
      );
    } catch (failure) {
      result.replaceChildren();
      error.textContent = describeError("The query", failure);
      error.hidden = false;
    } finally {
      running = false;
      run.disabled = false;
      run.textContent = "Run";
      form.removeAttribute("aria-busy");
    }
  };
  const onSubmit = (event: SubmitEvent) => {
    event.preventDefault();
    void execute();
  };
  const onKey = (event: KeyboardEvent) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void execute();
    }
  };
  form.addEventListener("submit", onSubmit);
  editor.addEventListener("keydown", onKey);
  return () => {
    form.removeEventListener("submit", onSubmit);
    editor.removeEventListener("keydown", onKey);
  };
}

function table(columns: string[], rows: Cell[][]): HTMLElement {
  const cell = (value: Cell) =>
    value === null
      ? h("td", { class: "null" }, "NULL")
      : typeof value === "object"
        ? h("td", {}, `blob ${value.blob.length} b64`)
        : h("td", {}, value);
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "region", "aria-label": "Query result" },
    h(
      "table",
      { class: "sql-table" },
      h("thead", {}, h("tr", {}, ...columns.map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, ...rows.map((row) => h("tr", {}, ...row.map(cell)))),
    ),
  );
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
