/**
 * Builds the D1 statements of a push: multi-row upserts guarded by `_seq` (a
 * row is never replaced by an older state), deletes, and the room's watermark.
 * Every statement names the room, so no statement can touch another room's rows.
 * Used by the sync engine.
 */
import { D1_MAX_PARAMS } from "../lib/limits";

/** Rows of one table, as the room's SQLite returns them (values in `columns` order). */
export interface RowSet {
  table: string;
  columns: readonly string[];
  rows: readonly (readonly SqlStorageValue[])[];
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Upserts of `rows` into the replica, each row stamped with `seq`; as many rows per statement as 100 parameters allow. */
export function upserts(db: D1Database, room: string, set: RowSet, seq: number): D1PreparedStatement[] {
  const columns = ["room_id", ...set.columns, "_seq"];
  const perRow = columns.length;
  const rowsPerStatement = Math.floor(D1_MAX_PARAMS / perRow);
  if (rowsPerStatement < 1) throw new Error(`table ${set.table} has too many columns to replicate (${perRow} parameters per row)`);
  const updates = [...set.columns.filter((column) => column !== "id"), "_seq"].map(
    (column) => `${quote(column)} = excluded.${quote(column)}`,
  );
  const head = `INSERT INTO ${quote(set.table)} (${columns.map(quote).join(", ")}) VALUES `;
  const tail =
    ` ON CONFLICT (${quote("room_id")}, ${quote("id")}) DO UPDATE SET ${updates.join(", ")}` +
    ` WHERE excluded.${quote("_seq")} >= ${quote(set.table)}.${quote("_seq")}`;
  const statements: D1PreparedStatement[] = [];
  for (let start = 0; start < set.rows.length; start += rowsPerStatement) {
    const chunk = set.rows.slice(start, start + rowsPerStatement);
    const placeholders = chunk.map(() => `(${columns.map(() => "?").join(", ")})`).join(", ");
    const values = chunk.flatMap((row) => [room, ...row, seq]);
    statements.push(db.prepare(head + placeholders + tail).bind(...values));
  }
  return statements;
}

/** Deletes of `ids` from the replica's `table`, for this room only. */
export function deletes(db: D1Database, room: string, table: string, ids: readonly number[]): D1PreparedStatement[] {
  const perStatement = D1_MAX_PARAMS - 1;
  const statements: D1PreparedStatement[] = [];
  for (let start = 0; start < ids.length; start += perStatement) {
    const chunk = ids.slice(start, start + perStatement);
    statements.push(
      db
        .prepare(`DELETE FROM ${quote(table)} WHERE ${quote("room_id")} = ? AND ${quote("id")} IN (${chunk.map(() => "?").join(", ")})`)
        .bind(room, ...chunk),
    );
  }
  return statements;
}

/** Advances the room's watermark (never backwards), in the same batch as the rows it covers. */
export function watermark(db: D1Database, room: string, seq: number, at: number): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO _replica_state (room_id, seq, synced_at) VALUES (?, ?, ?) " +
        "ON CONFLICT (room_id) DO UPDATE SET seq = max(_replica_state.seq, excluded.seq), synced_at = excluded.synced_at",
    )
    .bind(room, seq, at);
}
