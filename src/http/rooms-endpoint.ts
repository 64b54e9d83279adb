/**
 * `GET /rooms` with an operator token: the rooms the D1 replica has seen (it
 * sees every room), with their last replicated activity, rows per table and
 * replication state — for operators, never for a room token. An operator token
 * is a token for every room (`room: "*"`), role `admin`, with the `operator`
 * grant. Paged by room name (`?limit=`, `?after=`). Mounted by `createNanotype`.
 */
import { BEARER_CHALLENGE, verifyRequest } from "../auth/request-auth";
import { json, jsonError } from "../lib/json-response";
import type { RoomName } from "../lib/room-name";

/** Rooms per page by default, and at most. */
export const DEFAULT_ROOM_LIST_PAGE = 100;
export const MAX_ROOM_LIST_PAGE = 500;

/** A name no room can have (room names are validated): only a token for every room (`*`) grants it. */
const EVERY_ROOM = "\u0000every room" as RoomName;

/** One room as the replica knows it. */
export interface RoomListing {
  room: string;
  /** The last seq the replica confirmed for the room, and when (ms since the epoch): its last replicated activity. */
  replicatedSeq: number;
  lastSyncedAt: number;
  /** Rows the replica holds per replicated table. */
  rows: Record<string, number>;
}

export async function handleRoomsRequest(request: Request, env: Env, url: URL, tables: readonly string[]): Promise<Response> {
  if (request.method !== "GET") return jsonError(405, "METHOD_NOT_ALLOWED", "use GET", { allow: "GET" });
  const check = await verifyRequest(request, url, env, EVERY_ROOM, false);
  if (!check.ok) {
    const message =
      check.status === 403
        ? 'listing rooms needs an operator token (room "*", role admin, grant "operator"), not a room token'
        : check.message;
    return jsonError(check.status, check.code, message, check.status === 401 ? BEARER_CHALLENGE : undefined);
  }
  const { role, grants } = check.identity;
  if (role !== "admin" || !(grants ?? []).includes("operator")) {
    return jsonError(403, "FORBIDDEN", 'listing rooms needs the "operator" grant and the admin role');
  }
  const limitText = url.searchParams.get("limit");
  const limit = limitText === null ? DEFAULT_ROOM_LIST_PAGE : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_ROOM_LIST_PAGE) {
    return jsonError(400, "BAD_REQUEST", `limit must be an integer from 1 to ${MAX_ROOM_LIST_PAGE}`);
  }
  const after = url.searchParams.get("after") ?? "";
  const { results } = await env.DB.prepare("SELECT room_id, seq, synced_at FROM _replica_state WHERE room_id > ? ORDER BY room_id LIMIT ?")
    .bind(after, limit + 1)
    .all<{ room_id: string; seq: number; synced_at: number }>();
  const page = results.slice(0, limit);
  const rooms: RoomListing[] = page.map((row) => ({ room: row.room_id, replicatedSeq: row.seq, lastSyncedAt: row.synced_at, rows: {} }));
  if (rooms.length > 0) {
    const names = rooms.map((room) => room.room);
    const byRoom = new Map(rooms.map((room) => [room.room, room]));
    const placeholders = names.map(() => "?").join(", ");
    const counts = await env.DB.batch(
      tables.map((table) =>
        env.DB.prepare(
          `SELECT room_id, count(*) AS n FROM "${table.replaceAll('"', '""')}" WHERE room_id IN (${placeholders}) GROUP BY room_id`,
        ).bind(...names),
      ),
    );
    tables.forEach((table, index) => {
      for (const room of rooms) room.rows[table] = 0;
      for (const row of (counts[index]?.results ?? []) as { room_id: string; n: number }[]) byRoom.get(row.room_id)!.rows[table] = row.n;
    });
  }
  return json({ rooms, nextCursor: results.length > limit ? page[page.length - 1]!.room_id : null });
}
