/**
 * The room's schema upgrades: applies drizzle-kit's bundled migrations by name
 * (not by timestamp, see drizzle-orm #5769) in one synchronous transaction, and
 * checks that the room's SQLite has every table and column the code expects.
 * Used by the room's constructor (src/room/room.ts); internal to src/room/.
 */
import { getTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import type { RoomMigrations } from "../rpc/app-api";

export type { RoomMigrations };

/** What `applyRoomMigrations` did. */
export interface MigrationReport {
  /** Tags of the migrations applied by this call, in journal order (empty when up to date). */
  readonly applied: string[];
  /** How many migrations the bundle holds. */
  readonly total: number;
  /**
   * `created_at` of recorded migrations the bundle does not know: the room's
   * schema is newer than this code (a rollback deploy). Worth a log line.
   */
  readonly unknown: number[];
}

/** The room's schema does not match the code, or a migration could not be applied. */
export class RoomSchemaError extends Error {
  override readonly name = "RoomSchemaError";
}

/** Drizzle's bookkeeping table; rows written by drizzle's own migrator stay valid. */
const MIGRATIONS_TABLE = "__drizzle_migrations";
/** drizzle-kit's separator between statements of one migration file. */
const BREAKPOINT = "--> statement-breakpoint";
/** How much of a failing statement an error message quotes. */
const MAX_QUOTED_SQL_CHARS = 200;
const SCHEMA_HINT = "run `npm run db:generate` and deploy the generated migration";

/**
 * Applies every journal entry not yet recorded in `__drizzle_migrations`, in
 * journal order, whatever its timestamp, and records it (hash = tag,
 * created_at = when). An entry counts as applied when a row has its `when` as
 * created_at (drizzle's migrator writes hash "") or its tag as hash.
 * Runs in one `transactionSync`: on any failure nothing is applied.
 * `beforeFirst` runs in the same transaction just before the first pending
 * migration (never when there is none): the room drops its quota triggers
 * there, which name columns and would block `ALTER TABLE … DROP COLUMN`.
 *
 * @throws RoomSchemaError naming the tag (and statement) of a missing or failing migration.
 * @example
 * import migrations from "../../drizzle/migrations.js";
 * const report = applyRoomMigrations(ctx.storage, migrations);
 * if (report.unknown.length > 0) console.warn("room schema is newer than the code", report.unknown);
 */
export function applyRoomMigrations(storage: DurableObjectStorage, config: RoomMigrations, beforeFirst?: () => void): MigrationReport {
  const entries = [...config.journal.entries].sort((a, b) => a.idx - b.idx);
  return storage.transactionSync(() => {
    const { sql } = storage;
    sql.exec(`CREATE TABLE IF NOT EXISTS "${MIGRATIONS_TABLE}" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)`);
    const recorded = sql
      .exec<{ hash: string; created_at: number | string | null }>(`SELECT hash, created_at FROM "${MIGRATIONS_TABLE}"`)
      .toArray()
      .map((row) => ({ hash: row.hash, when: Number(row.created_at) }));
    const done = (entry: { when: number; tag: string }) => recorded.some((row) => row.when === entry.when || row.hash === entry.tag);

    const applied: string[] = [];
    for (const entry of entries) {
      if (done(entry)) continue;
      const text = config.migrations[`m${entry.idx.toString().padStart(4, "0")}`];
      if (text === undefined) throw new RoomSchemaError(`migration ${entry.tag} is in the journal but its SQL is missing from the bundle`);
      if (applied.length === 0) beforeFirst?.();
      for (const statement of text.split(BREAKPOINT)) {
        if (statement.trim() === "") continue;
        try {
          sql.exec(statement).toArray();
        } catch (error) {
          const quoted = statement.trim().slice(0, MAX_QUOTED_SQL_CHARS);
          throw new RoomSchemaError(`migration ${entry.tag} failed at ${JSON.stringify(quoted)}: ${messageOf(error)}`, { cause: error });
        }
      }
      sql.exec(`INSERT INTO "${MIGRATIONS_TABLE}" (hash, created_at) VALUES (?, ?)`, entry.tag, entry.when);
      applied.push(entry.tag);
    }

    const unknown = recorded
      .filter((row) => !entries.some((entry) => entry.when === row.when || entry.tag === row.hash))
      .map((row) => row.when);
    return { applied, total: entries.length, unknown };
  });
}

/** A table the code expects, by its SQL name and SQL column names. */
export interface ExpectedTable {
  readonly name: string;
  readonly columns: readonly string[];
}

/**
 * Checks that every expected table exists with every expected column (extra
 * tables and columns are fine). Call it after migrating: it turns "a
 * migration was never generated" into one clear error instead of SQL errors
 * (or, with SQLite's double-quoted-string quirk, wrong values) later.
 *
 * @throws RoomSchemaError naming every missing table and column at once.
 * @example
 * verifyRoomSchema(ctx.storage.sql, [expectedColumns(tasks), expectedColumns(debouncedState)]);
 */
export function verifyRoomSchema(sql: SqlStorage, tables: readonly ExpectedTable[]): void {
  // Runs on every wake: one query for all tables (their columns; a table with none is missing).
  const present = new Map<string, Set<string>>();
  // Every table of the room but the platform's and SQLite's own (no bound parameters: any number of tables).
  const rows = sql.exec<{ tbl: string; col: string }>(
    "SELECT m.name AS tbl, p.name AS col FROM sqlite_master AS m, pragma_table_info(m.name) AS p " +
      "WHERE m.type = 'table' AND m.name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
  );
  for (const row of rows) {
    let columns = present.get(row.tbl);
    if (!columns) present.set(row.tbl, (columns = new Set()));
    columns.add(row.col);
  }
  const problems: string[] = [];
  for (const table of tables) {
    const columns = present.get(table.name);
    if (!columns) {
      problems.push(`table "${table.name}" is missing`);
      continue;
    }
    for (const column of table.columns) {
      if (!columns.has(column)) problems.push(`table "${table.name}" has no column "${column}"`);
    }
  }
  if (problems.length > 0) throw new RoomSchemaError(`room schema is behind the code: ${problems.join("; ")} (${SCHEMA_HINT})`);
}

/**
 * The SQL name and SQL column names of a Drizzle table, for `verifyRoomSchema`.
 *
 * @example
 * expectedColumns(tasks); // { name: "tasks", columns: ["id", "title", …] }
 */
export function expectedColumns(table: SQLiteTable): ExpectedTable {
  const { name, columns } = getTableConfig(table);
  return { name, columns: columns.map((column) => column.name) };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
