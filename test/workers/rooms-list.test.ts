/**
 * The operators' room list (`GET /rooms`): every room the D1 replica has seen,
 * with its replication state and rows per table — for an operator token
 * (room "*", admin, grant "operator"), never for a room token.
 */
import { env, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { signRoomToken } from "../../src/auth/tokens";
import type { RoomListing } from "../../src/http/rooms-endpoint";
import { clientFor, closeClients, tokenFor, uniqueRoom } from "../helpers/clients";
import { untilReplicated } from "../helpers/replication";

afterEach(closeClients);

const operator = () => signRoomToken({ sub: "ops", room: "*", role: "admin", ttlSeconds: 600, grants: ["operator"] }, env.AUTH_SECRET);
const list = async (token: string | null, query = "") =>
  SELF.fetch(`http://example.com/rooms${query}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

describe("GET /rooms", () => {
  it("lists the replica's rooms with their replicated seq, last sync and rows per table, in pages", async () => {
    const prefix = `list-${crypto.randomUUID().slice(0, 6)}`;
    const rooms = [`${prefix}-a`, `${prefix}-b`];
    for (const [index, room] of rooms.entries()) {
      const writer = await clientFor(room, "writer", "alice");
      for (let i = 0; i <= index; i += 1) await writer.tasks.create.mutate({ title: `t${i}` });
      await untilReplicated(room);
    }
    const answer = await list(await operator(), `?after=${prefix}&limit=500`);
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as { rooms: RoomListing[]; nextCursor: string | null };
    const mine = body.rooms.filter((room) => room.room.startsWith(prefix));
    expect(mine.map((room) => [room.room, room.replicatedSeq, room.rows])).toEqual([
      [rooms[0], 1, { tasks: 1 }],
      [rooms[1], 2, { tasks: 2 }],
    ]);
    for (const room of mine) expect(room.lastSyncedAt).toBeGreaterThan(Date.now() - 60_000);

    // Pages of one, by room name.
    const first = (await (await list(await operator(), `?after=${prefix}&limit=1`)).json()) as { rooms: RoomListing[]; nextCursor: string };
    expect(first.rooms.map((room) => room.room)).toEqual([rooms[0]]);
    expect(first.nextCursor).toBe(rooms[0]);
    const second = (await (await list(await operator(), `?after=${first.nextCursor}&limit=1`)).json()) as { rooms: RoomListing[] };
    expect(second.rooms.map((room) => room.room)).toEqual([rooms[1]]);
  });

  it("refuses room tokens (even an admin's, even for every room without the grant), no token, and a bad limit", async () => {
    const room = uniqueRoom("list");
    expect((await list(await tokenFor(room, "admin", "boss"))).status).toBe(403);
    const everyRoomNoGrant = await signRoomToken({ sub: "ops", room: "*", role: "admin", ttlSeconds: 600 }, env.AUTH_SECRET);
    const refused = await list(everyRoomNoGrant);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('"operator" grant');
    const writerWithGrant = await signRoomToken(
      { sub: "ops", room: "*", role: "writer", ttlSeconds: 600, grants: ["operator"] },
      env.AUTH_SECRET,
    );
    expect((await list(writerWithGrant)).status).toBe(403);
    expect((await list(null)).status).toBe(401);
    expect((await list(await operator(), "?limit=0")).status).toBe(400);
    expect((await list(await operator(), "?limit=501")).status).toBe(400);
  });
});
