/**
 * Read-only SQL over a room's database: full SQLite reads (JOINs, aggregates,
 * window functions, CTEs) and nothing that can persist. Layers, each enough
 * on its own for writes: (1) the text is one reading statement
 * (sql-statement.ts); (2) SQLite compiles it and its bytecode opens no write
 * cursor, no write transaction, only readable tables and no virtual table but
 * json_each / json_tree (program-check.ts), and every recursive CTE in its
 * query plan is one the text check bounded (recursion-check.ts), and the
 * plan's worst-case work, from the room's current table sizes, fits
 * MAX_SQL_PLAN_COST (plan-cost.ts), since a running step cannot be stopped;
 * (3) it runs in a transaction that always rolls back, and a write the cursor
 * reports fails the request (rolled-back.ts). Receives the room's storage;
 * the rpc slice `sql.query` calls it.
 */
import { MAX_SQL_PLAN_COST, SQL_VISIT_BYTES } from "../lib/limits";
import { checkPlanCost, type IndexFacts, type PlanCost, type PlanFacts } from "./plan-cost";
import { EXPLAIN_COLUMNS, checkProgram, opensVirtualTable, type Instruction, type SchemaObject } from "./program-check";
import { checkRecursion, mayRecurse, type PlanRow } from "./recursion-check";
import { rolledBack } from "./rolled-back";
import { SqlRefused } from "./sql-errors";
import type { SqlParam } from "./sql-input";
import { readResult, type SqlResult } from "./sql-result";
import { checkStatement, type CheckedStatement } from "./sql-statement";
import { foldName } from "./sql-tokenizer";
import { readShape } from "./statement-shape";
import { UNKNOWN_JSON_CHARS, visitWeight } from "./visit-weight";

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
      this.#check(statement, params);
      const cursor = sqlite(statement.textOffset, () => this.#storage.sql.exec(statement.text, ...params));
      const result = sqlite(statement.textOffset, () => readResult(cursor, { now: this.#now, startedAt }));
      if (cursor.rowsWritten !== 0) {
        throw new SqlRefused("writeDetected", `the statement wrote ${cursor.rowsWritten} rows; they were rolled back`);
      }
      return result;
    });
  }

  /**
   * Runs every check of `query` without running it and returns its plan's
   * worst case (null for EXPLAIN, which only compiles). Throws SqlRefused as
   * `query` would.
   *
   * @example
   * sql.estimate({ sql: "SELECT count(*) FROM tasks a, tasks b" }); // → { cost: 9_003_000, worst: "SCAN a (3,000 rows) × SCAN b (3,000 rows)" }
   */
  estimate(query: SqlQuery): PlanCost | null {
    const statement = checkStatement(query.sql);
    return rolledBack(this.#storage, () => this.#check(statement, query.params ?? []));
  }

  /** Layer 2: the compiled program, the recursion bound and the plan's cost. */
  #check(statement: CheckedStatement, params: readonly SqlParam[]): PlanCost | null {
    const program = this.#explain(statement, params);
    const schema = this.#schema();
    checkProgram(program, {
      schema,
      readableTables: this.#readable,
      jsonTables: opensVirtualTable(program) ? this.#jsonTables() : new Set(),
    });
    const plan = this.#queryPlan(statement, params);
    if (mayRecurse(program)) checkRecursion(plan, statement.boundedRecursion);
    // EXPLAIN [QUERY PLAN] … only compiles the statement: nothing to bound.
    if (statement.programOffset !== statement.textOffset) return null;
    return checkPlanCost(plan, this.#planFacts(program, schema, statement, params));
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

  /** What the cost estimate needs besides the plan, read now: the sizes of the tables the program opens, their indexes. */
  #planFacts(
    program: readonly Instruction[],
    schema: ReadonlyMap<number, SchemaObject>,
    statement: CheckedStatement,
    params: readonly SqlParam[],
  ): PlanFacts {
    const opened = program.flatMap((instruction) =>
      instruction.opcode === "OpenRead" || instruction.opcode === "ReopenIdx"
        ? [schema.get(instruction.p2)].filter((object) => !!object)
        : [],
    );
    const databaseBytes = this.#storage.sql.databaseSize;
    const tableRows = new Map<string, number>();
    const tableWeights = new Map<string, number>();
    for (const table of new Set(opened.map((object) => object.table))) {
      const rows = this.#storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${quoteName(table)}`).one().n;
      tableRows.set(foldName(table), rows);
      tableWeights.set(foldName(table), Math.max(1, databaseBytes / Math.max(1, rows) / SQL_VISIT_BYTES));
    }
    const indexes = new Map<string, IndexFacts>();
    for (const object of opened) {
      if (object.type !== "index" || indexes.has(foldName(object.name))) continue;
      const listed = this.#storage.sql
        .exec<{ name: string; unique: number }>('SELECT name, "unique" FROM pragma_index_list(?)', object.table)
        .toArray()
        .find((row) => row.name === object.name);
      const columns = this.#storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM pragma_index_info(?)", object.name).one().n;
      indexes.set(foldName(object.name), {
        name: object.name,
        table: foldName(object.table),
        tableName: object.table,
        unique: listed?.unique === 1,
        columns,
      });
    }
    const groups = new Map<string, number | undefined>();
    const largestGroup = (index: string, columns: number): number | undefined => {
      const key = `${index}\u0000${columns}`;
      if (!groups.has(key)) groups.set(key, this.#largestGroup(index, columns, indexes, tableRows));
      return groups.get(key);
    };
    const shape = readShape(statement.tokens, params);
    const jsonChars = shape.jsonInputChars ?? UNKNOWN_JSON_CHARS;
    return {
      tableRows,
      tableWeights,
      indexes,
      cteLimits: statement.cteLimits,
      shape,
      // Each element of a JSON text takes at least two characters (`1,`).
      jsonRows: opensVirtualTable(program) ? Math.ceil(jsonChars / 2) + 1 : 0,
      visitWeight: visitWeight(program, statement.boundedRecursion.size > 0, shape.longestValueChars),
      largestGroup,
    };
  }

  /**
   * Most rows sharing one value of the index's first `columns` key columns,
   * counted now (one scan of the index) — unless the table is larger than the
   * plan budget, where that scan would cost more than it can save.
   */
  #largestGroup(
    index: string,
    columns: number,
    indexes: ReadonlyMap<string, IndexFacts>,
    tableRows: ReadonlyMap<string, number>,
  ): number | undefined {
    const facts = indexes.get(index);
    if (!facts || (tableRows.get(facts.table) ?? Infinity) > MAX_SQL_PLAN_COST) return undefined;
    const keys = this.#storage.sql
      .exec<{ name: string | null }>("SELECT name FROM pragma_index_info(?) ORDER BY seqno", facts.name)
      .toArray()
      .slice(0, columns)
      .map((row) => row.name);
    if (keys.length < columns || keys.some((key) => key === null)) return undefined;
    const row = this.#storage.sql
      .exec<{ n: number | null }>(
        `SELECT max(n) AS n FROM (SELECT count(*) AS n FROM ${quoteName(facts.tableName)} GROUP BY ${keys.map((key) => quoteName(key!)).join(", ")})`,
      )
      .one();
    return row.n ?? 0;
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
 * An identifier as SQL text. Identifiers cannot be bound parameters; the only
 * ones quoted here come from sqlite_schema and pragma_index_info, never from a caller.
 */
function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
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
