/**
 * Storage quotas per table and room. Triggers on every replicated table of the
 * app keep `_table_usage` (rows and bytes of column values per table) current
 * in the same statement as the write, and abort a write that takes a table past
 * its quota — so no code path can exceed it, whatever procedure writes. A
 * refused write changes nothing (SQLite undoes the statement) and is answered
 * FORBIDDEN with a message naming the table and the quota (lib/sqlite-errors.ts).
 * Deleting rows always works; an update that does not grow a row always works.
 * Like the change-log triggers, the engine manages the table and its triggers
 * itself (not the app's migrations) and recounts a table when its triggers change.
 */
import { QUOTA_MESSAGE_PREFIX } from "../lib/sqlite-errors";
import type { TableQuota } from "../protocol/room-limits";

/** The table the triggers keep: one row per quota'd table. */
export const USAGE_TABLE = "_table_usage";

const TRIGGER_PREFIX = "_quota_";

/** One table under a quota: its name, its columns (for the byte count) and its quota. */
export interface QuotaTable {
  name: string;
  columns: readonly string[];
  quota: TableQuota;
}

/** Bytes of one row's values: each value's length as a blob (text and numbers as their text, NULL as 0). */
function rowBytes(row: "NEW" | "OLD", columns: readonly string[]): string {
  return columns.map((column) => `coalesce(length(CAST(${row}."${column}" AS BLOB)), 0)`).join(" + ") || "0";
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** The trigger DDL of one table: usage kept on insert, update and delete; growth past the quota aborted. */
export function quotaTriggers({ name: table, columns, quota }: QuotaTable): Map<string, string> {
  const name = (op: string) => `${TRIGGER_PREFIX}${table}_${op}`;
  const tbl = literal(table);
  const refuse = (condition: string, message: string) =>
    `SELECT RAISE(ABORT, ${literal(`${QUOTA_MESSAGE_PREFIX}${message}`)}) FROM ${USAGE_TABLE} WHERE tbl = ${tbl} AND ${condition};`;
  const rowsFull = `table "${table}" holds at most ${quota.rows} rows in a room; delete rows first`;
  const bytesFull = `table "${table}" holds at most ${quota.bytes} bytes of values in a room; delete or shrink rows first`;
  const newBytes = rowBytes("NEW", columns);
  const oldBytes = rowBytes("OLD", columns);
  return new Map([
    [
      name("insert"),
      `CREATE TRIGGER "${name("insert")}" AFTER INSERT ON "${table}" BEGIN ` +
        `UPDATE ${USAGE_TABLE} SET row_count = row_count + 1, byte_count = byte_count + (${newBytes}) WHERE tbl = ${tbl}; ` +
        `${refuse(`row_count > ${quota.rows}`, rowsFull)} ${refuse(`byte_count > ${quota.bytes}`, bytesFull)} END`,
    ],
    [
      name("update"),
      `CREATE TRIGGER "${name("update")}" AFTER UPDATE ON "${table}" BEGIN ` +
        `UPDATE ${USAGE_TABLE} SET byte_count = byte_count + (${newBytes}) - (${oldBytes}) WHERE tbl = ${tbl}; ` +
        `${refuse(`byte_count > ${quota.bytes} AND (${newBytes}) > (${oldBytes})`, bytesFull)} END`,
    ],
    [
      name("delete"),
      `CREATE TRIGGER "${name("delete")}" AFTER DELETE ON "${table}" BEGIN ` +
        `UPDATE ${USAGE_TABLE} SET row_count = row_count - 1, byte_count = byte_count - (${oldBytes}) WHERE tbl = ${tbl}; END`,
    ],
  ]);
}

/** Rows and bytes a table holds. */
export type TableUsage = {
  rows: number;
  bytes: number;
};

export class TableQuotas {
  constructor(private readonly sql: SqlStorage) {}

  /**
   * Makes the quota triggers match `tables` exactly and recounts every table
   * whose triggers changed (a new quota, a new column, a rebuilt table) or
   * that has no usage row. Reads only when nothing differs. Call after
   * migrations, before any write.
   */
  install(tables: readonly QuotaTable[]): void {
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS ${USAGE_TABLE} (tbl TEXT PRIMARY KEY, row_count INTEGER NOT NULL, byte_count INTEGER NOT NULL) WITHOUT ROWID`,
    );
    const existing = new Map(
      this.sql
        .exec<{ name: string; sql: string }>(
          "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE '\\_quota\\_%' ESCAPE '\\'",
        )
        .toArray()
        .map((row) => [row.name, row.sql]),
    );
    const counted = new Set(
      this.sql
        .exec<{ tbl: string }>(`SELECT tbl FROM ${USAGE_TABLE}`)
        .toArray()
        .map((row) => row.tbl),
    );
    const wanted = new Set<string>();
    for (const table of tables) {
      let changed = !counted.has(table.name);
      for (const [name, ddl] of quotaTriggers(table)) {
        wanted.add(name);
        if (existing.get(name) === ddl) continue;
        changed = true;
        this.sql.exec(`DROP TRIGGER IF EXISTS "${name}"`);
        this.sql.exec(ddl);
      }
      if (changed) this.#recount(table);
    }
    for (const name of existing.keys()) if (!wanted.has(name)) this.sql.exec(`DROP TRIGGER IF EXISTS "${name}"`);
    const names = new Set(tables.map((table) => table.name));
    for (const tbl of counted) if (!names.has(tbl)) this.sql.exec(`DELETE FROM ${USAGE_TABLE} WHERE tbl = ?`, tbl);
  }

  /** Drops every quota trigger (before migrations: they name columns). The next `install` recreates them and recounts. */
  dropTriggers(): void {
    for (const name of this.#triggerNames()) this.sql.exec(`DROP TRIGGER IF EXISTS "${name}"`);
  }

  #triggerNames(): string[] {
    return this.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '\\_quota\\_%' ESCAPE '\\'")
      .toArray()
      .map((row) => row.name);
  }

  /** What `table` holds now, by the triggers' count. */
  usage(table: string): TableUsage {
    const row = this.sql
      .exec<TableUsage>(`SELECT row_count AS rows, byte_count AS bytes FROM ${USAGE_TABLE} WHERE tbl = ?`, table)
      .toArray()[0];
    return row ?? { rows: 0, bytes: 0 };
  }

  #recount({ name, columns }: QuotaTable): void {
    const bytes = rowBytes("NEW", columns).replaceAll("NEW.", "");
    this.sql.exec(
      `INSERT OR REPLACE INTO ${USAGE_TABLE} (tbl, row_count, byte_count) SELECT ?, count(*), coalesce(sum(${bytes}), 0) FROM "${name}"`,
      name,
    );
  }
}
