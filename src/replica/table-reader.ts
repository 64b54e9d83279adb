/**
 * Reads of replicated tables, written once and run on either side: in the room
 * against its SQLite (`roomReader`), in the Worker against the room's rows in
 * the D1 replica (`D1Reader`, which adds the room filter itself). A replica
 * read procedure (src/rpc/replica-procedures.ts) receives a `TableReader` and
 * never knows which. Public: apps write their replica reads against it.
 */
import { and, type SQL } from "drizzle-orm";
import type { AnyReplicatedTable } from "../../schema/define";
import type { RoomDatabase } from "../lib/room-database";

/** How to select rows: conditions and order over the room table's columns, and a limit. */
export interface RowQuery<T extends AnyReplicatedTable> {
  where?: (table: T["room"]) => SQL | undefined;
  orderBy?: (table: T["room"]) => SQL[];
  limit?: number;
}

/** A row of a replicated table, as the room stores it. */
export type RowOf<T extends AnyReplicatedTable> = T["room"]["$inferSelect"];

/** Reads rows of replicated tables of one room, wherever they are stored. */
export interface TableReader {
  /**
   * Rows of `table` matching `query`.
   *
   * @example
   * await reader.rows(tasks, { where: (t) => eq(t.status, "pending"), orderBy: (t) => [asc(t.id)], limit: 50 })
   */
  rows<T extends AnyReplicatedTable>(table: T, query?: RowQuery<T>): Promise<RowOf<T>[]>;
}

/** The replica as the Worker sees it for one room: reads, how far it is, and the fallback into the room. */
export interface ReplicaSource {
  reader: TableReader;
  /** The last room seq this replica has fully applied for the room (0 before the first sync). */
  watermark(): Promise<number>;
  /** Runs the same procedure in the room instead (when the replica is behind, or D1 fails). */
  inRoom(path: string, input: unknown): Promise<unknown>;
}

/** The room-side reader: the same queries against the room's own SQLite. */
export function roomReader(db: RoomDatabase): TableReader {
  return {
    async rows<T extends AnyReplicatedTable>(table: T, query: RowQuery<T> = {}) {
      let select = db
        .select()
        .from(table.room)
        .where(and(query.where?.(table.room)))
        .$dynamic();
      if (query.orderBy) select = select.orderBy(...query.orderBy(table.room));
      if (query.limit !== undefined) select = select.limit(query.limit);
      return select.all() as RowOf<T>[];
    },
  };
}
