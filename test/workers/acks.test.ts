/**
 * Acknowledgement levels: a mutation answers at `committed` (its seq); `sync.replicated`
 * answers once the D1 replica has that seq, with a D1 bookmark for replica reads.
 */
import { env, runInDurableObject, SELF } from "cloudflare:test";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { afterEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import type { AppRouter } from "../../src/app";
import { MAX_REPLICATED_TIMEOUT_MS, MAX_REPLICATION_WAITERS } from "../../src/lib/limits";
import { BOOKMARK_HEADER } from "../../src/protocol/routes";
import { Room } from "../../src/worker";
import { clientFor, closeClients, tokenFor, uniqueRoom } from "../helpers/clients";
import { RawSocket } from "../helpers/worker-socket";

afterEach(async () => {
  vi.restoreAllMocks();
  await closeClients();
});

const stub = (room: string) => env.ROOMS.get(env.ROOMS.idFromName(room));
const databasePrototype = () => Object.getPrototypeOf(env.DB) as D1Database;

/** The replica's row of `tasks` with `id` in `room`, read straight from D1. */
function replicaTask(room: string, id: number) {
  return env.DB.prepare("SELECT title, _seq FROM tasks WHERE room_id = ? AND id = ?")
    .bind(room, id)
    .first<{ title: string; _seq: number }>();
}

/** Makes every D1 batch fail until `lift()` (the room's binding shares this prototype). */
function d1Outage() {
  const batch = vi.spyOn(databasePrototype(), "batch").mockRejectedValue(new Error("D1 is unavailable"));
  return { lift: () => batch.mockRestore() };
}

/** The room's seq and replicated seq. */
async function syncStatus(room: string) {
  return (await clientFor(room, "reader", "observer")).sync.status.query();
}

describe("sync.replicated", () => {
  it("is typed on the router: { seq, timeoutMs? } → { seq, replicatedSeq, bookmark, waitedMs }; debounced.flush answers a seq", () => {
    expectTypeOf<inferRouterInputs<AppRouter>["sync"]["replicated"]>().toEqualTypeOf<{ seq: number; timeoutMs?: number | undefined }>();
    expectTypeOf<inferRouterOutputs<AppRouter>["sync"]["replicated"]>().toEqualTypeOf<{
      seq: number;
      replicatedSeq: number;
      bookmark: string | null;
      waitedMs: number;
    }>();
    expectTypeOf<inferRouterOutputs<AppRouter>["debounced"]["flush"]>().toEqualTypeOf<
      { flushed: number; keys: string[] } & { seq: number }
    >();
  });

  it("answers once the row is in D1, with replicatedSeq ≥ seq and a bookmark", async () => {
    const room = uniqueRoom("acks");
    const client = await clientFor(room, "writer");
    await client.tasks.create.mutate({ title: "warm-up" });
    const task = await client.tasks.create.mutate({ title: "acknowledged by the replica" });
    expect(await replicaTask(room, task.id)).toBeNull(); // committed, not replicated yet (the window is 100 ms)

    const ack = await client.sync.replicated.query({ seq: task.seq });
    expect(ack.seq).toBe(task.seq);
    expect(ack.replicatedSeq).toBeGreaterThanOrEqual(task.seq);
    expect(ack.bookmark).toEqual(expect.any(String));
    expect(ack.waitedMs).toBeGreaterThanOrEqual(0);
    expect(await replicaTask(room, task.id)).toMatchObject({ title: "acknowledged by the replica" });
    const { results } = await env.DB.prepare("SELECT seq FROM _replica_state WHERE room_id = ?").bind(room).all<{ seq: number }>();
    expect(results[0]!.seq).toBeGreaterThanOrEqual(task.seq);
  });

  it("answers at once for a seq already replicated, and for seq 0", async () => {
    const room = uniqueRoom("acks");
    const client = await clientFor(room, "writer");
    const task = await client.tasks.create.mutate({ title: "x" });
    const first = await client.sync.replicated.query({ seq: task.seq });
    const batch = vi.spyOn(databasePrototype(), "batch");
    const again = await client.sync.replicated.query({ seq: task.seq });
    expect(again).toMatchObject({ seq: task.seq, replicatedSeq: first.replicatedSeq, bookmark: first.bookmark });
    expect(await client.sync.replicated.query({ seq: 0 })).toMatchObject({ seq: 0, replicatedSeq: first.replicatedSeq });
    expect(batch).not.toHaveBeenCalled();
  });

  it("makes the room client's next replica read use the bookmark, served from D1 with the write", async () => {
    const room = uniqueRoom("acks");
    const client = await clientFor(room, "writer");
    await client.tasks.create.mutate({ title: "warm-up" });
    await client.sync.replicated.query({ seq: (await syncStatus(room)).roomSeq });
    const task = await client.tasks.create.mutate({ title: "read after replicated" });
    const { bookmark } = await client.sync.replicated.query({ seq: task.seq });

    const sessions = vi.spyOn(databasePrototype(), "withSession");
    const roomCalls = vi.spyOn(Room.prototype, "call");
    const read = await client.replica.tasks.get.query({ id: task.id });
    expect(read).toMatchObject({ source: "replica", data: { title: "read after replicated" } });
    expect(read.seq).toBeGreaterThanOrEqual(task.seq);
    expect(sessions).toHaveBeenCalledWith(bookmark);
    expect(roomCalls).not.toHaveBeenCalled();
  });

  it("serves a raw HTTP replica read sent with the bookmark from a session that has seen the write", async () => {
    const room = uniqueRoom("acks");
    const client = await clientFor(room, "writer");
    const task = await client.tasks.create.mutate({ title: "over plain HTTP" });
    const { bookmark } = await client.sync.replicated.query({ seq: task.seq });
    const sessions = vi.spyOn(databasePrototype(), "withSession");
    const input = encodeURIComponent(JSON.stringify({ json: { id: task.id } }));
    const response = await SELF.fetch(`http://example.com/rooms/${room}/trpc/replica.tasks.get?input=${input}`, {
      headers: { authorization: `Bearer ${await tokenFor(room)}`, [BOOKMARK_HEADER]: bookmark! },
    });
    expect(response.status).toBe(200);
    expect(sessions).toHaveBeenCalledWith(bookmark);
    const body = (await response.json()) as { result: { data: { json: { source: string; data: { title: string } } } } };
    expect(body.result.data.json).toMatchObject({ source: "replica", data: { title: "over plain HTTP" } });
    expect(response.headers.get(BOOKMARK_HEADER)).toEqual(expect.any(String));
  });

  it("answers over the HTTP endpoint too (the Worker forwards it to the room)", async () => {
    const room = uniqueRoom("acks");
    const client = await clientFor(room, "writer");
    const task = await client.tasks.create.mutate({ title: "over HTTP" });
    const input = encodeURIComponent(JSON.stringify({ json: { seq: task.seq } }));
    const response = await SELF.fetch(`http://example.com/rooms/${room}/trpc/sync.replicated?input=${input}`, {
      headers: { authorization: `Bearer ${await tokenFor(room, "reader", "curl")}` },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { result: { data: { json: { seq: number; replicatedSeq: number; bookmark: string } } } };
    expect(body.result.data.json).toMatchObject({ seq: task.seq, bookmark: expect.any(String) });
    expect(body.result.data.json.replicatedSeq).toBeGreaterThanOrEqual(task.seq);
    expect(await replicaTask(room, task.id)).toMatchObject({ title: "over HTTP" });
  });

  it("does not hold up the client's other calls while it waits", async () => {
    const room = uniqueRoom("acks");
    const client = await clientFor(room, "writer");
    const before = await client.tasks.create.mutate({ title: "before" });
    await client.sync.replicated.query({ seq: before.seq });
    const outage = d1Outage();
    const task = await client.tasks.create.mutate({ title: "waited for" });
    let answered = false;
    const waiting = client.sync.replicated.query({ seq: task.seq, timeoutMs: 20_000 }).finally(() => (answered = true));
    const next = await client.tasks.create.mutate({ title: "written while a call waits" });
    expect(next.seq).toBeGreaterThan(task.seq);
    expect(await client.tasks.get.query({ id: next.id })).toMatchObject({ title: "written while a call waits" });
    expect(answered).toBe(false);
    outage.lift();
    await runInDurableObject(stub(room), (_instance, state) => state.storage.setAlarm(Date.now()));
    expect((await waiting).replicatedSeq).toBeGreaterThanOrEqual(task.seq);
  });

  it("refuses a seq beyond the room's head", async () => {
    const room = uniqueRoom("acks");
    const client = await clientFor(room, "writer");
    const task = await client.tasks.create.mutate({ title: "head" });
    await expect(client.sync.replicated.query({ seq: task.seq + 1 })).rejects.toMatchObject({
      data: { code: "BAD_REQUEST" },
      message: expect.stringContaining(`seq ${task.seq + 1} is beyond this room's head (${task.seq})`),
    });
  });

  it(`accepts timeoutMs up to ${MAX_REPLICATED_TIMEOUT_MS} and refuses more`, async () => {
    const room = uniqueRoom("acks");
    const client = await clientFor(room, "reader");
    await expect(client.sync.replicated.query({ seq: 0, timeoutMs: MAX_REPLICATED_TIMEOUT_MS })).resolves.toMatchObject({ seq: 0 });
    await expect(client.sync.replicated.query({ seq: 0, timeoutMs: MAX_REPLICATED_TIMEOUT_MS + 1 })).rejects.toMatchObject({
      data: { code: "BAD_REQUEST" },
    });
  });

  it("fails with TIMEOUT naming the seq, the replicated seq and D1's failure when D1 is down", async () => {
    const room = uniqueRoom("acks");
    const client = await clientFor(room, "writer");
    const before = await client.tasks.create.mutate({ title: "before" });
    await client.sync.replicated.query({ seq: before.seq });
    const errorsBefore = (await syncStatus(room)).syncErrors;
    const outage = d1Outage();
    const task = await client.tasks.create.mutate({ title: "during the outage" });

    const started = Date.now();
    // The first push fails at once; the alarm's retry after the 1 s backoff fails too, and the next one (2 s later) is past the deadline.
    const error = await client.sync.replicated.query({ seq: task.seq, timeoutMs: 1_500 }).catch((caught: unknown) => caught);
    const waited = Date.now() - started;
    expect(error).toMatchObject({ data: { code: "TIMEOUT" } });
    const message = (error as Error).message;
    expect(message).toContain(`seq ${task.seq} cannot be replicated within 1500 ms (replicatedSeq ${before.seq})`);
    expect(message).toMatch(
      /D1 is failing \(\d+ consecutive failures, backing off; last error: D1 is unavailable\); next attempt in \d+ ms/,
    );
    expect((await syncStatus(room)).syncErrors - errorsBefore).toBeGreaterThanOrEqual(2); // it was answered after the alarm's retry failed too
    expect(waited).toBeLessThan(1_500); // and it gave up as soon as the deadline could not be met
    expect(await replicaTask(room, task.id)).toBeNull();

    // In backoff, a deadline before the next attempt is refused at once, without pushing.
    const batch = vi.mocked(databasePrototype().batch);
    const calls = batch.mock.calls.length;
    await expect(client.sync.replicated.query({ seq: task.seq, timeoutMs: 100 })).rejects.toMatchObject({
      data: { code: "TIMEOUT" },
      message: expect.stringContaining("after this call's deadline"),
    });
    expect(batch.mock.calls.length).toBe(calls);

    outage.lift();
    await runInDurableObject(stub(room), (_instance, state) => state.storage.setAlarm(Date.now()));
    const ack = await client.sync.replicated.query({ seq: task.seq, timeoutMs: 5_000 });
    expect(ack.replicatedSeq).toBeGreaterThanOrEqual(task.seq);
    expect(await replicaTask(room, task.id)).toMatchObject({ title: "during the outage" });
  });

  it("never abandons a push in flight: a deadline that passes during a slow push is answered when it ends", async () => {
    const room = uniqueRoom("acks");
    const client = await clientFor(room, "writer");
    const task = await client.tasks.create.mutate({ title: "slow" });
    const realBatch = databasePrototype().batch;
    vi.spyOn(databasePrototype(), "batch").mockImplementation(async function (this: D1Database, statements) {
      await new Promise((resolve) => setTimeout(resolve, 600));
      return realBatch.call(this, statements);
    });
    // The push confirms the seq after the 200 ms deadline: the caller gets the confirmation, not a TIMEOUT.
    const ack = await client.sync.replicated.query({ seq: task.seq, timeoutMs: 200 });
    expect(ack.replicatedSeq).toBeGreaterThanOrEqual(task.seq);
    expect(ack.waitedMs).toBeGreaterThanOrEqual(500);
    expect(await replicaTask(room, task.id)).toMatchObject({ title: "slow" });

    // A slow push that fails answers with TIMEOUT, saying why.
    const failing = await client.tasks.create.mutate({ title: "slow and failing" });
    vi.mocked(databasePrototype().batch).mockImplementation(async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      throw new Error("D1 timed out");
    });
    await expect(client.sync.replicated.query({ seq: failing.seq, timeoutMs: 200 })).rejects.toMatchObject({
      data: { code: "TIMEOUT" },
      message: expect.stringContaining(
        `seq ${failing.seq} cannot be replicated within 200 ms (replicatedSeq ${task.seq}): D1 is failing (1 consecutive failures, backing off; last error: D1 timed out); next attempt in`,
      ),
    });
  });

  it(`lets ${MAX_REPLICATION_WAITERS} calls wait in a room and refuses one more, then answers them all once D1 is back`, async () => {
    const room = uniqueRoom("acks");
    const writer = await clientFor(room, "writer");
    const before = await writer.tasks.create.mutate({ title: "before" });
    await writer.sync.replicated.query({ seq: before.seq });
    const outage = d1Outage();
    const task = await writer.tasks.create.mutate({ title: "waited for" });

    const readers = await Promise.all(Array.from({ length: 5 }, (_, index) => clientFor(room, "reader", `reader-${index}`)));
    // One more than the cap, at once: the last to arrive is refused, the others wait.
    const calls = Array.from({ length: MAX_REPLICATION_WAITERS + 1 }, (_, index) =>
      readers[index % readers.length]!.sync.replicated.query({ seq: task.seq, timeoutMs: 20_000 }).then(
        (ack) => ({ ok: true as const, ack }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
    );
    const first = await Promise.race(calls);
    expect(first).toMatchObject({
      ok: false,
      error: { data: { code: "TOO_MANY_REQUESTS" }, message: expect.stringContaining(`${MAX_REPLICATION_WAITERS} calls waiting`) },
    });

    outage.lift();
    await runInDurableObject(stub(room), (_instance, state) => state.storage.setAlarm(Date.now()));
    const settled = await Promise.all(calls);
    expect(settled.filter((call) => !call.ok)).toHaveLength(1);
    const acks = settled.flatMap((call) => (call.ok ? [call.ack] : []));
    expect(acks).toHaveLength(MAX_REPLICATION_WAITERS);
    expect(acks.every((ack) => ack.replicatedSeq >= task.seq)).toBe(true);
    expect(new Set(acks.map((ack) => ack.bookmark)).size).toBe(1); // one bookmark read for all of them
    expect(await replicaTask(room, task.id)).toMatchObject({ title: "waited for" });
  }, 30_000);
});

describe("a sync.replicated call batched with writes", () => {
  it("does not hold back the frame's other writes from live subscribers while it waits", async () => {
    const room = uniqueRoom("batched");
    const watcher = await clientFor(room, "reader", "bob");
    const seen: number[] = [];
    watcher.tasks.changes.subscribe(undefined, { onData: ({ data }) => data.type === "change" && seen.push(Date.now()) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const outage = d1Outage();
    try {
      // A first write whose push fails puts the sync engine into its backoff: no push (and no alarm) comes soon.
      const writer = await clientFor(room, "writer", "alice");
      await writer.tasks.create.mutate({ title: "before" });
      while (seen.length < 1) await new Promise((resolve) => setTimeout(resolve, 20));
      while ((await syncStatus(room)).syncErrors === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, "writer", "alice")}`);
      const sent = Date.now();
      socket.send([
        { id: 1, method: "mutation", params: { path: "tasks.create", input: { json: { title: "batched" } } } },
        { id: 2, method: "query", params: { path: "sync.replicated", input: { json: { seq: 2, timeoutMs: 3_000 } } } },
      ]);
      while (seen.length === 1 && Date.now() - sent < 2_500) await new Promise((resolve) => setTimeout(resolve, 20));
      // The change arrived long before the wait ended (D1 is down: it ends with TIMEOUT).
      expect(seen.length).toBe(2);
      const answered = () => socket.frames.some((frame) => (frame as { id?: number }).id === 2);
      while (!answered()) await socket.waitForFrames(socket.frames.length + 1, 5_000);
      const waited = Date.now() - sent;
      expect(seen[1]! - sent).toBeLessThan(300);
      expect(waited).toBeGreaterThan(800);
      socket.close();
    } finally {
      outage.lift();
    }
  });
});
