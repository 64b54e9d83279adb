/**
 * Reads of one room's rows in the D1 replica. The only way the Worker reads
 * replica tables: every query it builds is ANDed with `room_id = <room>`, and
 * the room comes from the verified token, so no caller can omit or change it.
 * Rows come back without `room_id` and `_seq`, shaped like the room's rows.
 */
import { and, eq, type SQL } from "drizzle-orm";
import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { replicaState } from "../../schema/replica";
import type { RoomName } from "../lib/room-name";

/** A replica table: any table with `room_id`, `id` and `_seq` columns (see schema/define.ts). */
interface ReplicaTable {
  room_id: SQLiteColumn;
  _seq: SQLiteColumn;
  $inferSelect: { room_id: string; _seq: number };
}

/** A replica row without its replica-only columns. */
export type RoomRow<T extends ReplicaTable> = Omit<T["$inferSelect"], "room_id" | "_seq">;

export class RoomScope {
  readonly #db: DrizzleD1Database;

  constructor(
    database: D1Database | D1DatabaseSession,
    /** The caller's room, from the verified token. */
    readonly room: RoomName,
  ) {
    // A session has the same prepare/batch surface as the database.
    this.#db = drizzle(database as D1Database);
  }

  /**
   * Rows of `table` in this room matching `where` (ANDed with the room filter).
   *
   * @example
   * scope.rows(tasks, { where: (t) => eq(t.status, "pending"), orderBy: (t) => [asc(t.id)], limit: 50 })
   */
  async rows<T extends ReplicaTable>(
    table: T,
    options: { where?: (table: T) => SQL | undefined; orderBy?: (table: T) => SQL[]; limit?: number } = {},
  ): Promise<RoomRow<T>[]> {
    const filter = and(eq(table.room_id, this.room), options.where?.(table));
    // drizzle's generic select typing cannot follow a table parameter; the shape is checked by RoomRow.
    let query = this.#db
      .select()
      .from(table as never)
      .where(filter)
      .$dynamic();
    if (options.orderBy) query = query.orderBy(...options.orderBy(table));
    if (options.limit !== undefined) query = query.limit(options.limit);
    const rows = (await query) as T["$inferSelect"][];
    return rows.map(({ room_id: _room, _seq: _rowSeq, ...row }) => row as RoomRow<T>);
  }

  /** The last room seq this replica has fully applied for the room (0 before the first sync). */
  async watermark(): Promise<number> {
    const row = await this.#db.select({ seq: replicaState.seq }).from(replicaState).where(eq(replicaState.room_id, this.room)).get();
    return row?.seq ?? 0;
  }
}
