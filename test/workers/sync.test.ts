import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { SyncStatus } from "../../src/sync/sync-engine";
import { Room } from "../../src/worker";
import { clientFor, closeClients, stockClientFor, tokenFor, uniqueRoom } from "../helpers/clients";
import { RawSocket } from "../helpers/worker-socket";

afterEach(async () => {
  vi.restoreAllMocks();
  await closeClients();
});

const stub = (room: string) => env.ROOMS.get(env.ROOMS.idFromName(room));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const TABLES = ["tasks", "_debounced_state"] as const;

/** The room's rows of a table, as raw values in id order. */
function roomRows(room: string, table: string) {
  return runInDurableObject(stub(room), (_instance, state) =>
    state.storage.sql
      .exec(`SELECT * FROM "${table}" ORDER BY id`)
      .toArray()
      .map((row) => ({ ...row })),
  );
}

/** The replica's rows of a table for one room, without room_id and _seq, in id order. */
async function replicaRows(room: string, table: string) {
  const { results } = await env.DB.prepare(`SELECT * FROM "${table}" WHERE room_id = ? ORDER BY id`)
    .bind(room)
    .all<Record<string, unknown>>();
  return results.map(({ room_id: _room, _seq: _seqValue, ...row }) => row);
}

async function status(room: string): Promise<SyncStatus> {
  return (await clientFor(room, "reader", "observer")).sync.status.query();
}

/** Waits until the replica has confirmed everything the room committed. */
async function untilReplicated(room: string, timeoutMs = 10_000): Promise<SyncStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await status(room);
    if (current.replicatedSeq === current.roomSeq && !current.fullResyncPending) return current;
    if (Date.now() > deadline) throw new Error(`not replicated: ${JSON.stringify(current)}`);
    await sleep(50);
  }
}

async function expectReplicaEqualsRoom(room: string): Promise<void> {
  for (const table of TABLES) expect(await replicaRows(room, table), table).toEqual(await roomRows(room, table));
}

/** Makes every D1 batch fail until `lift()` (the DO's binding shares this prototype). */
function d1Outage() {
  const batch = vi.spyOn(Object.getPrototypeOf(env.DB) as D1Database, "batch").mockRejectedValue(new Error("D1 is unavailable"));
  return { lift: () => batch.mockRestore() };
}

describe("the sync engine", () => {
  it("replicates every kind of write, deletes included", async () => {
    const room = uniqueRoom("sync");
    const client = await clientFor(room, "admin");
    const kept = await client.tasks.create.mutate({ title: "kept" });
    const changed = await client.tasks.create.mutate({ title: "changed" });
    const removed = await client.tasks.create.mutate({ title: "removed" });
    await client.tasks.update.mutate({ id: changed.id, title: "changed twice", status: "in_progress" });
    await client.tasks.complete.mutate({ id: kept.id });
    await client.tasks.delete.mutate({ id: removed.id });
    await client.debounced.update.mutate({ key: "slider", value: 42 });
    await client.debounced.flush.mutate({});

    await untilReplicated(room);
    await expectReplicaEqualsRoom(room);
    expect((await replicaRows(room, "tasks")).map((row) => row["title"])).toEqual(["kept", "changed twice"]);
    const { results } = await env.DB.prepare("SELECT seq FROM _replica_state WHERE room_id = ?").bind(room).all<{ seq: number }>();
    expect(results).toEqual([{ seq: (await status(room)).roomSeq }]);
  });

  it("turns a burst of 1,000 writes into a few batches", async () => {
    const room = uniqueRoom("sync");
    const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room)}`);
    await untilReplicated(room); // the first-start resync
    const batch = vi.spyOn(Object.getPrototypeOf(env.DB) as D1Database, "batch");
    for (let frame = 0; frame < 10; frame += 1) {
      socket.send(
        Array.from({ length: 100 }, (_, index) => ({
          id: frame * 100 + index,
          method: "mutation",
          params: { path: "tasks.create", input: { json: { title: `burst ${frame * 100 + index}` } } },
        })),
      );
    }
    await socket.waitForFrames(1_000, 30_000);
    const final = await untilReplicated(room);
    expect(batch.mock.calls.length).toBeGreaterThanOrEqual(1);
    expect(batch.mock.calls.length).toBeLessThanOrEqual(5);
    expect(final.totalSyncs).toBeLessThanOrEqual(6);
    await expectReplicaEqualsRoom(room);
    socket.close();
  }, 60_000);

  it("keeps accepting writes while D1 is down, reports it, and converges once D1 is back", async () => {
    const room = uniqueRoom("sync");
    const client = await clientFor(room, "writer");
    await client.tasks.create.mutate({ title: "before the outage" });
    await untilReplicated(room);

    const outage = d1Outage();
    const during = await client.tasks.create.mutate({ title: "during the outage" });
    await client.tasks.update.mutate({ id: during.id, priority: 3 });
    await sleep(400);
    await runDurableObjectAlarm(stub(room));
    const down = await status(room);
    expect(down).toMatchObject({ isHealthy: false, replicaAvailable: false, lastError: "D1 is unavailable" });
    expect(down.syncErrors).toBeGreaterThanOrEqual(1);
    expect(down.pendingChanges).toBe(2);
    expect(down.nextAttemptAt).toBeGreaterThan(Date.now() - 100);
    expect((await replicaRows(room, "tasks")).map((row) => row["title"])).toEqual(["before the outage"]);

    outage.lift();
    await runInDurableObject(stub(room), (_instance, state) => state.storage.setAlarm(Date.now()));
    const up = await untilReplicated(room);
    expect(up).toMatchObject({ isHealthy: true, replicaAvailable: true, pendingChanges: 0, lastError: null });
    await expectReplicaEqualsRoom(room);
  });

  it("loses nothing when the room is evicted during an outage", async () => {
    const room = uniqueRoom("sync");
    const client = await clientFor(room, "writer");
    await client.tasks.create.mutate({ title: "first" });
    await untilReplicated(room);

    const outage = d1Outage();
    await client.tasks.create.mutate({ title: "written while D1 was down" });
    await client.debounced.update.mutate({ key: "k", value: "v" });
    await client.debounced.flush.mutate({});
    await sleep(400);
    await runDurableObjectAlarm(stub(room));
    await closeClients();
    await evictDurableObject(stub(room), { webSockets: "close" });

    outage.lift();
    const errors = (await status(room)).syncErrors;
    expect(errors).toBeGreaterThanOrEqual(1); // durable: survived the eviction
    await runInDurableObject(stub(room), (_instance, state) => state.storage.setAlarm(Date.now()));
    await untilReplicated(room);
    await expectReplicaEqualsRoom(room);
  });

  it("full resync removes this room's orphans and touches no other room", async () => {
    const room = uniqueRoom("sync");
    const other = uniqueRoom("sync");
    const client = await clientFor(room, "admin");
    await client.tasks.create.mutate({ title: "real" });
    await untilReplicated(room);
    const insert = (roomId: string, id: number, title: string) =>
      env.DB.prepare(
        "INSERT INTO tasks (room_id, id, title, created_by, created_at, updated_at, _seq) VALUES (?, ?, ?, 'ghost', 0, 0, 1)",
      ).bind(roomId, id, title);
    await env.DB.batch([insert(room, 9_001, "orphan"), insert(room, 9_002, "orphan"), insert(other, 1, "another room's row")]);

    const result = await client.sync.forceSyncAll.mutate();
    expect(result.outcome).toMatchObject({ kind: "full", deleted: 2 });
    await expectReplicaEqualsRoom(room);
    expect((await replicaRows(other, "tasks")).map((row) => row["title"])).toEqual(["another room's row"]);
  });

  it("reports a failed forced resync as an error", async () => {
    const room = uniqueRoom("sync");
    const client = await clientFor(room, "admin");
    await client.tasks.create.mutate({ title: "x" });
    await untilReplicated(room);
    d1Outage();
    await expect(client.sync.forceSyncAll.mutate()).rejects.toMatchObject({
      data: { code: "INTERNAL_SERVER_ERROR" },
      message: expect.stringContaining("D1 is unavailable"),
    });
    const reader = await clientFor(room, "writer", "wendy");
    await expect(reader.sync.forceSyncAll.mutate()).rejects.toMatchObject({ data: { code: "FORBIDDEN" } });
  });

  it("keeps three rooms writing at once to exactly their own rows", async () => {
    const rooms = [uniqueRoom("sync"), uniqueRoom("sync"), uniqueRoom("sync")];
    const clients = await Promise.all(rooms.map((room) => clientFor(room, "writer")));
    await Promise.all(
      clients.map((client, index) =>
        Promise.all(Array.from({ length: 30 }, (_, n) => client.tasks.create.mutate({ title: `room ${index} task ${n}` }))),
      ),
    );
    await Promise.all(rooms.map((room) => untilReplicated(room)));
    for (const [index, room] of rooms.entries()) {
      await expectReplicaEqualsRoom(room);
      const titles = (await replicaRows(room, "tasks")).map((row) => String(row["title"]));
      expect(titles).toHaveLength(30);
      expect(titles.every((title) => title.startsWith(`room ${index} `))).toBe(true);
    }
  });

  it("keeps its counters across eviction", async () => {
    const room = uniqueRoom("sync");
    const client = await clientFor(room, "writer");
    await client.tasks.create.mutate({ title: "a" });
    const before = await untilReplicated(room);
    await closeClients();
    await evictDurableObject(stub(room), { webSockets: "close" });
    const after = await status(room);
    expect(after).toMatchObject({
      totalSyncs: before.totalSyncs,
      syncErrors: before.syncErrors,
      replicatedSeq: before.replicatedSeq,
      lastSyncTime: before.lastSyncTime,
    });
  });

  it("never replaces a replica row with an older state", async () => {
    const room = uniqueRoom("sync");
    const client = await clientFor(room, "writer");
    const task = await client.tasks.create.mutate({ title: "v1" });
    await untilReplicated(room);
    // Pretend a later push already wrote a newer state (seq far ahead).
    await env.DB.prepare("UPDATE tasks SET title = 'from the future', _seq = 1000000 WHERE room_id = ? AND id = ?")
      .bind(room, task.id)
      .run();
    await client.tasks.update.mutate({ id: task.id, title: "v2" });
    await untilReplicated(room);
    expect((await replicaRows(room, "tasks"))[0]).toMatchObject({ title: "from the future" });
  });
});

describe("replica reads", () => {
  it("are served by the room, with the room's seq, over the WebSocket", async () => {
    const room = uniqueRoom("sync");
    const client = await stockClientFor(room, "writer");
    const task = await client.tasks.create.mutate({ title: "read me", status: "in_progress" });
    const page = await client.replica.tasks.list.query({ status: "in_progress" });
    expect(page).toMatchObject({ source: "room", seq: task.seq, data: { items: [{ id: task.id, title: "read me" }], nextCursor: null } });
    expect(await client.replica.tasks.get.query({ id: 999 })).toMatchObject({ source: "room", data: null });
  });

  it("are served by the Worker from D1 over HTTP, never invoking the room", async () => {
    const room = uniqueRoom("sync");
    const client = await clientFor(room, "writer");
    const task = await client.tasks.create.mutate({ title: "replicated", status: "pending" });
    await untilReplicated(room);
    const roomCalls = vi.spyOn(Room.prototype, "call");
    const roomFetches = vi.spyOn(Room.prototype, "fetch");
    const roomMessages = vi.spyOn(Room.prototype, "webSocketMessage");
    const page = await client.replica.tasks.list.query({ status: "pending" });
    const one = await client.replica.tasks.get.query({ id: task.id });
    expect(page).toMatchObject({ source: "replica", seq: task.seq, data: { items: [{ id: task.id, title: "replicated" }] } });
    expect(page.data.items[0]!.created_at).toBeInstanceOf(Date);
    expect(one).toMatchObject({ source: "replica", data: { id: task.id, title: "replicated" } });
    expect(roomCalls).not.toHaveBeenCalled();
    expect(roomFetches).not.toHaveBeenCalled();
    expect(roomMessages).not.toHaveBeenCalled();
  });

  it("fall back to the room when the replica is behind minSeq, and read their own writes", async () => {
    const room = uniqueRoom("sync");
    const client = await clientFor(room, "writer");
    await client.tasks.create.mutate({ title: "first" });
    await untilReplicated(room);
    const task = await client.tasks.create.mutate({ title: "just written" });
    const roomCalls = vi.spyOn(Room.prototype, "call");
    const fresh = await client.replica.tasks.get.query({ id: task.id, minSeq: task.seq });
    expect(fresh).toMatchObject({ source: "room", data: { title: "just written" } });
    expect(fresh.seq).toBeGreaterThanOrEqual(task.seq);
    expect(roomCalls).toHaveBeenCalledTimes(1);
    await untilReplicated(room);
    expect(await client.replica.tasks.get.query({ id: task.id, minSeq: task.seq })).toMatchObject({ source: "replica" });
  });

  it("fall back to the room when D1 fails", async () => {
    const room = uniqueRoom("sync");
    const client = await clientFor(room, "writer");
    const task = await client.tasks.create.mutate({ title: "still readable" });
    await untilReplicated(room);
    vi.spyOn(Object.getPrototypeOf(env.DB) as D1Database, "withSession").mockImplementation(
      () =>
        ({
          prepare: () => {
            throw new Error("D1 is unavailable");
          },
          getBookmark: () => null,
        }) as unknown as D1DatabaseSession,
    );
    expect(await client.replica.tasks.get.query({ id: task.id })).toMatchObject({ source: "room", data: { title: "still readable" } });
  });

  it("only ever show the caller's own room", async () => {
    const mine = uniqueRoom("sync");
    const theirs = uniqueRoom("sync");
    const other = await clientFor(theirs, "writer");
    await other.tasks.create.mutate({ title: "secret" });
    await untilReplicated(theirs);
    const me = await clientFor(mine, "writer");
    await me.tasks.create.mutate({ title: "mine" });
    await untilReplicated(mine);
    const page = await me.replica.tasks.list.query();
    expect(page.data.items.map((item) => item.title)).toEqual(["mine"]);

    const refused = await SELF.fetch(`http://example.com/rooms/${theirs}/trpc/replica.tasks.list`, {
      headers: { authorization: `Bearer ${await tokenFor(mine)}` },
    });
    expect(refused.status).toBe(403);
  });
});
