/**
 * The per-room change log: triggers on every replicated table append
 * (seq, table, op, pk, at) to `_changes` in the same transaction as the write,
 * so no code path can write without logging. Read by live data (feeds, live
 * queries) and the sync engine. Receives the room's SqlStorage.
 */
import type { ChangeOp } from "../../schema/engine";
import { CHANGE_LOG_MAX_AGE_MS, CHANGE_LOG_MAX_ENTRIES } from "../lib/limits";

/** One logged change. */
export interface Change {
  seq: number;
  table: string;
  op: ChangeOp;
  pk: number;
  at: number;
}

const TRIGGER_PREFIX = "_changes_";
const NOW_MS = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";

/** The trigger DDL for one table: insert, update (a changed id logs a delete of the old id) and delete. */
export function changeTriggers(table: string): Map<string, string> {
  const log = (op: ChangeOp, pk: string) => `INSERT INTO _changes (tbl, op, pk, at) VALUES ('${table}', '${op}', ${pk}, ${NOW_MS});`;
  const name = (op: ChangeOp) => `${TRIGGER_PREFIX}${table}_${op}`;
  return new Map([
    [name("insert"), `CREATE TRIGGER "${name("insert")}" AFTER INSERT ON "${table}" BEGIN ${log("insert", "NEW.id")} END`],
    [
      name("update"),
      `CREATE TRIGGER "${name("update")}" AFTER UPDATE ON "${table}" BEGIN ` +
        `INSERT INTO _changes (tbl, op, pk, at) SELECT '${table}', 'delete', OLD.id, ${NOW_MS} WHERE OLD.id IS NOT NEW.id; ` +
        `${log("update", "NEW.id")} END`,
    ],
    [name("delete"), `CREATE TRIGGER "${name("delete")}" AFTER DELETE ON "${table}" BEGIN ${log("delete", "OLD.id")} END`],
  ]);
}

export class ChangeLog {
  constructor(private readonly sql: SqlStorage) {}

  /**
   * Makes the room's triggers match `tables` exactly: creates missing ones,
   * replaces changed ones, drops those of tables no longer replicated. Reads
   * only, unless something differs. Call after migrations, before any write.
   */
  installTriggers(tables: readonly string[]): void {
    const wanted = new Map<string, string>();
    for (const table of tables) for (const [name, ddl] of changeTriggers(table)) wanted.set(name, ddl);
    const existing = new Map(
      this.sql
        .exec<{ name: string; sql: string }>(
          "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE '\\_changes\\_%' ESCAPE '\\'",
        )
        .toArray()
        .map((row) => [row.name, row.sql]),
    );
    for (const [name, ddl] of wanted) {
      if (existing.get(name) === ddl) continue;
      this.sql.exec(`DROP TRIGGER IF EXISTS "${name}"`);
      this.sql.exec(ddl);
    }
    for (const name of existing.keys()) if (!wanted.has(name)) this.sql.exec(`DROP TRIGGER IF EXISTS "${name}"`);
  }

  /** The last seq ever assigned in this room (0 before the first write); survives trimming. */
  head(): number {
    const row = this.sql.exec<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = '_changes'").toArray()[0];
    return row?.seq ?? 0;
  }

  /** The oldest seq still in the log, or null when the log is empty. */
  oldest(): number | null {
    const row = this.sql.exec<{ seq: number | null }>("SELECT min(seq) AS seq FROM _changes").one();
    return row.seq;
  }

  /**
   * True when every change after `seq` is still in the log, so a reader at
   * `seq` can catch up without a resync.
   */
  reaches(seq: number): boolean {
    const head = this.head();
    if (seq >= head) return true;
    const oldest = this.oldest();
    return oldest !== null && oldest <= seq + 1;
  }

  /** Changes with seq in (after, upTo], oldest first, at most `limit`. */
  since(after: number, limit: number, upTo = Number.MAX_SAFE_INTEGER): Change[] {
    return this.sql
      .exec<{ seq: number; tbl: string; op: ChangeOp; pk: number; at: number }>(
        "SELECT seq, tbl, op, pk, at FROM _changes WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
        after,
        upTo,
        limit,
      )
      .toArray()
      .map((row) => ({ seq: row.seq, table: row.tbl, op: row.op, pk: row.pk, at: row.at }));
  }

  /** Names of the tables changed in (after, upTo]. */
  tablesChanged(after: number, upTo: number): Set<string> {
    const rows = this.sql.exec<{ tbl: string }>("SELECT DISTINCT tbl FROM _changes WHERE seq > ? AND seq <= ?", after, upTo).toArray();
    return new Set(rows.map((row) => row.tbl));
  }

  /**
   * Applies retention: keeps at most CHANGE_LOG_MAX_ENTRIES entries and none
   * older than CHANGE_LOG_MAX_AGE_MS. `keepAfter` protects entries a reader
   * (the sync engine) still needs. Returns the number of entries removed.
   */
  trim(now = Date.now(), keepAfter = Number.MAX_SAFE_INTEGER): number {
    const floor = Math.min(this.head() - CHANGE_LOG_MAX_ENTRIES, keepAfter);
    const cursor = this.sql.exec(
      "DELETE FROM _changes WHERE seq <= ? OR (at < ? AND seq <= ?)",
      floor,
      now - CHANGE_LOG_MAX_AGE_MS,
      keepAfter,
    );
    return cursor.rowsWritten;
  }
}
