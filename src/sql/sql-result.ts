/**
 * Reads a read-only SQL cursor into a JSON-safe result, row by row, within the
 * limits: at most MAX_SQL_RESULT_ROWS rows and MAX_SQL_RESULT_BYTES bytes
 * (`truncated: true` when cut), and the work and time budgets, checked before
 * each step. Used by read-only-sql.ts.
 */
import { MAX_SQL_ROWS_READ, SQL_TIME_BUDGET_MS } from "../lib/limits";
import { MAX_SQL_RESULT_BYTES, MAX_SQL_RESULT_ROWS } from "../protocol/wire-limits";
import { SqlRefused } from "./sql-errors";

/**
 * One value of a result. SQLite's integers and reals are numbers (integers
 * beyond ±2^53 lose precision: select `CAST(x AS TEXT)` to keep them exact),
 * text is a string, NULL is null, and a BLOB is `{ blob: "<base64>" }`.
 */
export type SqlCell = string | number | null | { blob: string };

/** The answer to `sql.query` / `executeSQL`. */
export interface SqlResult {
  /** Column names, in order (names may repeat: `SELECT 1 AS a, 2 AS a`). */
  columns: string[];
  /** Rows as arrays of cells, in the order of `columns`. */
  rows: SqlCell[][];
  /** `rows.length`. */
  rowCount: number;
  /** True when more rows existed than the result limits allow. */
  truncated: boolean;
  /** Wall time the query took (ms). Deployed Workers clocks advance only on I/O, so there it is usually 0. */
  elapsedMs: number;
  /** Rows SQLite read to answer (tables, indexes, intermediate results): the query's cost. */
  rowsRead: number;
}

/** The budget a query runs under. */
export interface QueryBudget {
  /** The clock (ms). */
  now: () => number;
  /** When the query started, by `now`. */
  startedAt: number;
}

const encoder = new TextEncoder();

/** A BLOB as base64, in chunks (String.fromCharCode takes a bounded number of arguments). */
function base64(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function cell(value: SqlStorageValue): SqlCell {
  return value instanceof ArrayBuffer ? { blob: base64(value) } : value;
}

function checkBudget(cursor: SqlStorageCursor<Record<string, SqlStorageValue>>, budget: QueryBudget): void {
  if (cursor.rowsRead > MAX_SQL_ROWS_READ) {
    throw new SqlRefused("budget", `the query read more than ${MAX_SQL_ROWS_READ} rows (MAX_SQL_ROWS_READ); narrow it down`);
  }
  if (budget.now() - budget.startedAt > SQL_TIME_BUDGET_MS) {
    throw new SqlRefused("budget", `the query ran longer than ${SQL_TIME_BUDGET_MS} ms (SQL_TIME_BUDGET_MS); narrow it down`);
  }
}

/**
 * Steps through `cursor` and builds the result. Call inside the transaction
 * the cursor belongs to. Throws SqlRefused("budget") when a budget is spent
 * before the last row.
 */
export function readResult(cursor: SqlStorageCursor<Record<string, SqlStorageValue>>, budget: QueryBudget): SqlResult {
  const columns = cursor.columnNames;
  const rows: SqlCell[][] = [];
  const raw = cursor.raw();
  let bytes = encoder.encode(JSON.stringify(columns)).byteLength;
  let truncated = false;
  for (;;) {
    checkBudget(cursor, budget);
    const step = raw.next();
    if (step.done) break;
    const row = step.value.map(cell);
    bytes += encoder.encode(JSON.stringify(row)).byteLength + 1;
    if (rows.length === MAX_SQL_RESULT_ROWS || bytes > MAX_SQL_RESULT_BYTES) {
      truncated = true;
      break;
    }
    rows.push(row);
  }
  return { columns, rows, rowCount: rows.length, truncated, elapsedMs: budget.now() - budget.startedAt, rowsRead: cursor.rowsRead };
}
