/**
 * Reads of one room's rows in the D1 replica. The only way the Worker reads
 * replica tables: every query is ANDed with `room_id = <room>`, and the room
 * comes from the verified token, so no caller can omit or change it. Rows come
 * back without `room_id` and `_seq`, shaped like the room's rows.
 *
 * Before reading a table it checks that the replica has every column the code
 * expects: SQLite (and D1) read an unknown double-quoted identifier as a string
 * literal, so a replica migrated behind the code would answer column names as
 * values. A replica behind the schema throws `ReplicaBehindSchema`, and the
 * read falls back to the room.
 */
import { and, eq } from "drizzle-orm";
import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import { getTableConfig, type SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { AnyReplicatedTable } from "../../schema/define";
import { replicaState } from "../../schema/engine";
import type { RoomName } from "../lib/room-name";
import type { RowOf, RowQuery, TableReader } from "./table-reader";

/** How long a replica found behind the schema is trusted to stay so before checking again (ms). */
const BEHIND_RECHECK_MS = 2_000;

/** The replica lacks a table or columns this code reads: its D1 migrations have not been applied yet. */
export class ReplicaBehindSchema extends Error {
  constructor(
    readonly table: string,
    readonly missing: readonly string[],
  ) {
    super(
      missing.length === 0
        ? `the D1 replica has no table "${table}" yet; apply the D1 migrations (wrangler d1 migrations apply)`
        : `the D1 replica's "${table}" lacks ${missing.map((column) => `"${column}"`).join(", ")}; apply the D1 migrations (wrangler d1 migrations apply)`,
    );
    this.name = "ReplicaBehindSchema";
  }
}

/**
 * Per isolate: tables whose replica schema was seen complete (checked once; migrations
 * only add), and those seen behind (until when that answer holds).
 */
const schemaChecks = new Map<string, { ok: true } | { ok: false; until: number; error: ReplicaBehindSchema }>();

export class D1Reader implements TableReader {
  readonly #db: DrizzleD1Database;

  constructor(
    private readonly database: D1Database | D1DatabaseSession,
    /** The caller's room, from the verified token. */
    readonly room: RoomName,
    private readonly now: () => number = Date.now,
  ) {
    // A session has the same prepare/batch surface as the database.
    this.#db = drizzle(database as D1Database);
  }

  async rows<T extends AnyReplicatedTable>(table: T, query: RowQuery<T> = {}): Promise<RowOf<T>[]> {
    await this.#assertSchema(table);
    // The replica table has the room table's columns under the same names, plus room_id and _seq.
    const columns = table.replica as unknown as T["room"];
    const roomId = (table.replica as unknown as { room_id: SQLiteColumn }).room_id;
    let select = this.#db
      .select()
      .from(table.replica)
      .where(and(eq(roomId, this.room), query.where?.(columns)))
      .$dynamic();
    if (query.orderBy) select = select.orderBy(...query.orderBy(columns));
    if (query.limit !== undefined) select = select.limit(query.limit);
    const rows = (await select) as (RowOf<T> & { room_id?: string; _seq?: number })[];
    return rows.map(({ room_id: _room, _seq: _rowSeq, ...row }) => row as RowOf<T>);
  }

  /** The last room seq this replica has fully applied for the room (0 before the first sync). */
  async watermark(): Promise<number> {
    const row = await this.#db.select({ seq: replicaState.seq }).from(replicaState).where(eq(replicaState.room_id, this.room)).get();
    return row?.seq ?? 0;
  }

  async #assertSchema(table: AnyReplicatedTable): Promise<void> {
    const known = schemaChecks.get(table.name);
    if (known?.ok) return;
    if (known && known.until > this.now()) throw known.error;
    const expected = getTableConfig(table.replica).columns.map((column) => column.name);
    const { results } = await this.database.prepare(`PRAGMA table_info("${table.name.replaceAll('"', '""')}")`).all<{ name: string }>();
    const present = new Set(results.map((row) => row.name));
    const missing = results.length === 0 ? [] : expected.filter((column) => !present.has(column));
    if (results.length > 0 && missing.length === 0) {
      schemaChecks.set(table.name, { ok: true });
      return;
    }
    const error = new ReplicaBehindSchema(table.name, missing);
    schemaChecks.set(table.name, { ok: false, until: this.now() + BEHIND_RECHECK_MS, error });
    throw error;
  }
}
