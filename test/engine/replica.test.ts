/**
 * Replication and replica reads against the app under test (APP_FIXTURE): the
 * D1 replica converges to the room's rows (deletes included); the table's
 * replica reads are served by the Worker from D1 without invoking the room,
 * and fall back to the room when the replica is behind `minSeq` or D1 fails.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { closeClients, uniqueRoom } from "../helpers/clients";
import { pathClientFor } from "../helpers/path-client";
import { d1Outage, replicaRows, roomRows, untilReplicated } from "../helpers/replication";
import { appFixture } from "./fixtures";

type Row = Record<string, unknown> & { id: number };
type Written = Row & { seq: number };
interface ReplicaResult<T> {
  source: "replica" | "room";
  seq: number;
  data: T;
}
interface Page {
  items: Row[];
  nextCursor: number | null;
}

const app = appFixture();
afterEach(async () => {
  vi.restoreAllMocks();
  await closeClients();
});

const withoutSeq = ({ seq: _seq, ...row }: Written): Row => row;

describe(`replication of ${app.table}`, () => {
  it("converges: the replica holds exactly the room's rows after inserts, updates and deletes", async () => {
    const room = uniqueRoom("sync");
    const client = await pathClientFor(room, "writer");
    const written: Written[] = [];
    for (const label of ["kept", "changed", "removed", "also kept"])
      written.push(await client.mutate<Written>(app.paths.create, app.create(label)));
    await client.mutate(app.paths.update, { id: written[1]!.id, ...app.update.set });
    const last = await client.mutate<{ seq: number }>(app.paths.delete, { id: written[2]!.id });

    const status = await untilReplicated(room);
    expect(status.replicatedSeq).toBe(last.seq);
    const room_ = await roomRows(room, app.table);
    expect(room_.map((row) => row[app.labelColumn])).toEqual(["kept", "changed", "also kept"]);
    expect(room_.find((row) => row["id"] === written[1]!.id)?.[app.update.column]).toBe(app.update.stored.after);
    expect(await replicaRows(room, app.table)).toEqual(room_);
    const { results } = await env.DB.prepare("SELECT seq FROM _replica_state WHERE room_id = ?").bind(room).all<{ seq: number }>();
    expect(results).toEqual([{ seq: last.seq }]);
  });
});

describe(`replica reads of ${app.table}`, () => {
  it("are served by the Worker from D1 after sync, never invoking the room", async () => {
    const room = uniqueRoom("replica");
    const client = await pathClientFor(room, "writer");
    const one = await client.mutate<Written>(app.paths.create, app.create("one"));
    const two = await client.mutate<Written>(app.paths.create, app.create("two"));
    await untilReplicated(room);

    const { Room } = await app.worker();
    const roomCalls = vi.spyOn(Room.prototype, "call");
    const roomFetches = vi.spyOn(Room.prototype, "fetch");
    const roomMessages = vi.spyOn(Room.prototype, "webSocketMessage");
    const page = await client.query<ReplicaResult<Page>>(app.paths.replicaList, { limit: 1 });
    expect(page).toEqual({ source: "replica", seq: two.seq, data: { items: [withoutSeq(one)], nextCursor: one.id } });
    const next = await client.query<ReplicaResult<Page>>(app.paths.replicaList, { limit: 1, cursor: one.id });
    expect(next.data).toEqual({ items: [withoutSeq(two)], nextCursor: null });
    expect(await client.query(app.paths.replicaGet, { id: two.id })).toEqual({ source: "replica", seq: two.seq, data: withoutSeq(two) });
    expect(await client.query(app.paths.replicaGet, { id: 999_999 })).toEqual({ source: "replica", seq: two.seq, data: null });
    expect(roomCalls).not.toHaveBeenCalled();
    expect(roomFetches).not.toHaveBeenCalled();
    expect(roomMessages).not.toHaveBeenCalled();
  });

  it("fall back to the room while the replica is behind minSeq, and return to D1 once it caught up", async () => {
    const room = uniqueRoom("replica");
    const client = await pathClientFor(room, "writer");
    await client.mutate(app.paths.create, app.create("replicated"));
    await untilReplicated(room);

    const outage = d1Outage(room); // pushes fail, so the replica stays behind this write
    const fresh = await client.mutate<Written>(app.paths.create, app.create("just written"));
    const { Room } = await app.worker();
    const roomCalls = vi.spyOn(Room.prototype, "call");
    const behind = await client.query<ReplicaResult<Row | null>>(app.paths.replicaGet, { id: fresh.id, minSeq: fresh.seq });
    expect(behind).toEqual({ source: "room", seq: fresh.seq, data: withoutSeq(fresh) });
    expect(roomCalls).toHaveBeenCalledTimes(1);
    // Without minSeq the replica answers, at its own (older) seq, without the new row.
    const stale = await client.query<ReplicaResult<Row | null>>(app.paths.replicaGet, { id: fresh.id });
    expect(stale).toEqual({ source: "replica", seq: fresh.seq - 1, data: null });

    await outage.lift();
    await untilReplicated(room);
    const caughtUp = await client.query<ReplicaResult<Row | null>>(app.paths.replicaGet, { id: fresh.id, minSeq: fresh.seq });
    expect(caughtUp).toEqual({ source: "replica", seq: fresh.seq, data: withoutSeq(fresh) });
    expect(roomCalls).toHaveBeenCalledTimes(1);
  });

  it("fall back to the room when D1 fails", async () => {
    const room = uniqueRoom("replica");
    const client = await pathClientFor(room, "writer");
    const row = await client.mutate<Written>(app.paths.create, app.create("still readable"));
    await untilReplicated(room);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    vi.spyOn(Object.getPrototypeOf(env.DB) as D1Database, "withSession").mockImplementation(
      () =>
        ({
          prepare: () => {
            throw new Error("D1 is unavailable");
          },
          getBookmark: () => null,
        }) as unknown as D1DatabaseSession,
    );
    expect(await client.query(app.paths.replicaGet, { id: row.id })).toEqual({ source: "room", seq: row.seq, data: withoutSeq(row) });
    const page = await client.query<ReplicaResult<Page>>(app.paths.replicaList);
    expect(page).toEqual({ source: "room", seq: row.seq, data: { items: [withoutSeq(row)], nextCursor: null } });
    expect(warn.mock.calls.map(([message]) => String(message))).toEqual([
      `replica read ${app.paths.replicaGet} failed; reading from the room`,
      `replica read ${app.paths.replicaList} failed; reading from the room`,
    ]);
  });
});
