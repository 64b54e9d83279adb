/**
 * Read-only SQL over a room's database: full SQLite reads (JOINs, aggregates,
 * window functions, CTEs) and nothing that can persist. Layers, each enough
 * on its own for writes: (1) the text is one reading statement
 * (sql-statement.ts); (2) SQLite compiles it and its bytecode opens no write
 * cursor, no write transaction, only readable tables and no virtual table but
 * json_each / json_tree (program-check.ts), and every recursive CTE in its
 * query plan is one the text check bounded (recursion-check.ts);
 * (3) it runs in a transaction that always rolls back, and a write the cursor
 * reports fails the request (rolled-back.ts). Receives the room's storage;
 * the rpc slice `sql.query` calls it.
 */
import { EXPLAIN_COLUMNS, checkProgram, opensVirtualTable, type Instruction, type SchemaObject } from "./program-check";
import { checkRecursion, mayRecurse, type PlanRow } from "./recursion-check";
import { rolledBack } from "./rolled-back";
import { SqlRefused } from "./sql-errors";
import type { SqlParam } from "./sql-input";
import { readResult, type SqlResult } from "./sql-result";
import { checkStatement, type CheckedStatement } from "./sql-statement";

/** What read-only SQL needs of the room: its `ctx.storage`. */
export type SqlRoomStorage = Pick<DurableObjectStorage, "sql" | "transactionSync">;

export interface ReadOnlySqlOptions {
  /** Tables a query may read (their indexes too); everything else in the database is internal. */
  readableTables: readonly string[];
  /** The clock for the time budget and `elapsedMs` (ms). */
  now?: () => number;
}

/** One query: SQL text and its bound parameters. */
export interface SqlQuery {
  sql: string;
  params?: readonly SqlParam[] | undefined;
}

const EXPLAIN_PREFIX = "EXPLAIN ";

/** Statements whose only virtual table is json_each or json_tree: compiled to learn those tables' `vtab:` addresses. */
const JSON_TABLE_PROBES = ["EXPLAIN SELECT * FROM json_each('[]')", "EXPLAIN SELECT * FROM json_tree('[]')"];

/**
 * Runs read-only queries against one room's SQLite.
 *
 * @example
 * const sql = new ReadOnlySql(ctx.storage, { readableTables: ["tasks"] });
 * sql.query({ sql: "SELECT status, count(*) AS n FROM tasks WHERE priority >= ? GROUP BY status", params: [2] });
 * // → { columns: ["status", "n"], rows: [["pending", 3]], rowCount: 1, truncated: false, elapsedMs: 0, rowsRead: 7 }
 */
export class ReadOnlySql {
  readonly #storage: SqlRoomStorage;
  readonly #readable: ReadonlySet<string>;
  readonly #now: () => number;

  constructor(storage: SqlRoomStorage, options: ReadOnlySqlOptions) {
    this.#storage = storage;
    this.#readable = new Set(options.readableTables);
    this.#now = options.now ?? Date.now;
  }

  /** Runs one reading statement. Throws SqlRefused (with a reason and a clear message) for anything else. */
  query(query: SqlQuery): SqlResult {
    const startedAt = this.#now();
    const statement = checkStatement(query.sql);
    const params = query.params ?? [];
    return rolledBack(this.#storage, () => {
      const program = this.#explain(statement, params);
      checkProgram(program, {
        schema: this.#schema(),
        readableTables: this.#readable,
        jsonTables: opensVirtualTable(program) ? this.#jsonTables() : new Set(),
      });
      if (mayRecurse(program)) checkRecursion(this.#queryPlan(statement, params), statement.boundedRecursion);
      const cursor = sqlite(statement.textOffset, () => this.#storage.sql.exec(statement.text, ...params));
      const result = sqlite(statement.textOffset, () => readResult(cursor, { now: this.#now, startedAt }));
      if (cursor.rowsWritten !== 0) {
        throw new SqlRefused("writeDetected", `the statement wrote ${cursor.rowsWritten} rows; they were rolled back`);
      }
      return result;
    });
  }

  /** The statement's bytecode, compiled by SQLite itself. */
  #explain(statement: CheckedStatement, params: readonly SqlParam[]): Instruction[] {
    const shift = statement.programOffset - EXPLAIN_PREFIX.length;
    return sqlite(shift, () => {
      const cursor = this.#storage.sql.exec<Record<string, SqlStorageValue>>(EXPLAIN_PREFIX + statement.program, ...params);
      const columns = cursor.columnNames;
      if (columns.length !== EXPLAIN_COLUMNS.length || columns.some((name, i) => name !== EXPLAIN_COLUMNS[i])) {
        throw new SqlRefused("multipleStatements", "SQLite read more than one statement in the text; read-only SQL runs exactly one");
      }
      return cursor.toArray() as unknown as Instruction[];
    });
  }

  /** The statement's query plan, compiled by SQLite (`EXPLAIN QUERY PLAN`). */
  #queryPlan(statement: CheckedStatement, params: readonly SqlParam[]): PlanRow[] {
    const prefix = "EXPLAIN QUERY PLAN ";
    return sqlite(statement.programOffset - prefix.length, () =>
      this.#storage.sql.exec<{ id: number; parent: number; detail: string }>(prefix + statement.program, ...params).toArray(),
    );
  }

  /** The `vtab:` addresses of json_each and json_tree, learned on this connection in this transaction. */
  #jsonTables(): Set<string> {
    const tables = new Set<string>();
    for (const probe of JSON_TABLE_PROBES) {
      for (const row of this.#storage.sql.exec<Record<string, SqlStorageValue>>(probe).toArray()) {
        // Only a real address is learned, so a changed EXPLAIN format fails closed (json_each refused), never open.
        if (row.opcode === "VOpen" && typeof row.p4 === "string" && row.p4.startsWith("vtab:")) tables.add(row.p4);
      }
    }
    return tables;
  }

  /** Root page → table or index, read fresh for each query (migrations may change it). */
  #schema(): Map<number, SchemaObject> {
    const rows = this.#storage.sql
      .exec<{ type: string; name: string; tbl_name: string; rootpage: number }>(
        "SELECT type, name, tbl_name, rootpage FROM sqlite_schema WHERE rootpage > 0",
      )
      .toArray();
    return new Map(rows.map((row) => [row.rootpage, { type: row.type, name: row.name, table: row.tbl_name }]));
  }
}

/**
 * Runs a call into SQLite, turning its errors into SqlRefused with offsets
 * that point into the caller's text (`shift` = where the executed text starts in it).
 */
function sqlite<T>(shift: number, call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (error instanceof SqlRefused || !(error instanceof Error)) throw error;
    const message = error.message
      .replace(/ at offset (\d+)/, (_, offset: string) => ` at offset ${Math.max(0, Number(offset) + shift)}`)
      .replace(/: SQLITE_[A-Z_]+( \(extended: [A-Z_]+\))?$/, "");
    if (/wrong number of parameter bindings/i.test(message)) {
      throw new SqlRefused("params", "the number of params does not match the statement's placeholders (?, ?NNN, :name)");
    }
    if (/too many SQL variables/i.test(message)) throw new SqlRefused("params", `SQLite: ${message}`);
    // The platform's own authorizer refused it: a pragma, ATTACH, a temp table, an internal function, …
    if (/not authorized/i.test(message)) throw new SqlRefused("notARead", `SQLite: ${message}`);
    throw new SqlRefused("syntax", `SQLite: ${message}`);
  }
}
