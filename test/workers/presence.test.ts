import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_CACHE_BYTES, MAX_CACHE_ENTRIES } from "../../src/lib/limits";
import { entryBytes } from "../../src/presence/memory-store";
import { DEFAULT_ROOM_LIMITS } from "../../src/protocol/room-limits";
import type { PresenceWatchEvent } from "../../src/rpc/presence-router";
import { clientFor, closeClients, tokenFor, uniqueRoom } from "../helpers/clients";
import { RawSocket } from "../helpers/worker-socket";

// The test environment sets CURSOR_TTL_MS=2000 and PRESENCE_TTL_MS=3000 (vitest.config.ts).
const CURSOR_TTL = 2_000;

const sockets: RawSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) if (!socket.closed) socket.close();
  await closeClients();
});

async function open(room: string, sub: string, role: "reader" | "writer" | "admin" = "writer"): Promise<RawSocket> {
  const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, role, sub)}`);
  sockets.push(socket);
  return socket;
}

const stub = (room: string) => env.ROOMS.get(env.ROOMS.idFromName(room));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function watch(client: Awaited<ReturnType<typeof clientFor>>) {
  const events: PresenceWatchEvent[] = [];
  let wake: (() => void) | null = null;
  const subscription = client.presence.watch.subscribe(undefined, {
    onData: (event) => {
      events.push(event);
      wake?.();
    },
  });
  return {
    events,
    subscription,
    async until(predicate: (events: PresenceWatchEvent[]) => boolean, timeoutMs = 8_000): Promise<PresenceWatchEvent[]> {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(events)) {
        if (Date.now() > deadline) throw new Error(`timed out; events: ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
      return events;
    },
  };
}

const changes = (events: PresenceWatchEvent[]) =>
  events.flatMap((event) => (event.type === "change" ? [`${event.kind}:${event.change}:${event.userId}`] : []));

describe("cursors and presence", () => {
  it("stores the caller's cursor and presence and lists them", async () => {
    const room = uniqueRoom();
    const ann = await clientFor(room, "reader", "ann");
    const bob = await clientFor(room, "writer", "bob");
    const set = await ann.presence.setCursor.mutate({ position: { line: 42, column: 10, file: "index.ts" } });
    expect(set).toMatchObject({ userId: "ann", position: { line: 42, column: 10, file: "index.ts" } });
    await bob.presence.setPresence.mutate({ status: { online: true, activity: "editing" } });
    expect(await bob.presence.getCursors.query()).toEqual([set]);
    expect(await ann.presence.getPresence.query()).toEqual([
      { userId: "bob", status: { online: true, activity: "editing" }, updatedAt: expect.any(Number) },
    ]);
  });

  it("refuses a payload userId that is not the caller", async () => {
    const ann = await clientFor(uniqueRoom(), "writer", "ann");
    await expect(ann.presence.setCursor.mutate({ userId: "mallory", position: 1 })).rejects.toMatchObject({ data: { code: "FORBIDDEN" } });
    expect(await ann.presence.setCursor.mutate({ userId: "ann", position: 1 })).toMatchObject({ userId: "ann" });
  });

  it("refuses oversized values with the field named", async () => {
    const ann = await clientFor(uniqueRoom(), "writer", "ann");
    await expect(ann.presence.setCursor.mutate({ position: "x".repeat(2_000) })).rejects.toMatchObject({
      data: {
        code: "BAD_REQUEST",
        issues: [expect.objectContaining({ path: "position", message: "position must be at most 1024 bytes as JSON" })],
      },
    });
    await expect(ann.memory.set.mutate({ key: "big", value: "x".repeat(70_000) })).rejects.toMatchObject({
      data: { issues: [expect.objectContaining({ path: "value" })] },
    });
    await expect(ann.memory.set.mutate({ key: "k", value: 1, ttlMs: 10 })).rejects.toMatchObject({
      data: { issues: [expect.objectContaining({ path: "ttlMs" })] },
    });
  });

  it("tells watchers about joins, updates and the leave when a user's last socket closes", async () => {
    const room = uniqueRoom();
    const watcher = watch(await clientFor(room, "reader", "wanda"));
    await watcher.until((events) => events.length >= 1);
    expect(watcher.events[0]).toEqual({ type: "snapshot", cursors: [], presence: [] });

    const first = await open(room, "ann");
    const second = await open(room, "ann");
    first.send({ id: 1, method: "mutation", params: { path: "presence.setPresence", input: { json: { status: "here" } } } });
    first.send({ id: 2, method: "mutation", params: { path: "presence.setCursor", input: { json: { position: { x: 1 } } } } });
    second.send({ id: 3, method: "mutation", params: { path: "presence.setCursor", input: { json: { position: { x: 2 } } } } });
    await watcher.until((events) => changes(events).length >= 3);

    first.close();
    await sleep(200);
    expect(changes(watcher.events)).toEqual(["presence:join:ann", "cursor:join:ann", "cursor:update:ann"]);

    second.close();
    await watcher.until((events) => changes(events).length >= 5);
    expect(changes(watcher.events).slice(3)).toEqual(["cursor:leave:ann", "presence:leave:ann"]);
  });

  it("expires cursors through the room's alarm and tells watchers", async () => {
    const room = uniqueRoom();
    const watcher = watch(await clientFor(room, "reader", "wanda"));
    const ann = await clientFor(room, "writer", "ann");
    await ann.presence.setCursor.mutate({ position: 1 });
    await watcher.until((events) => changes(events).length >= 1);
    await sleep(CURSOR_TTL + 100);
    // The alarm may already have fired on its own; if not, run it now. No read
    // happens before the event, so only the alarm's sweep can announce it (and
    // without a scheduled alarm the event never comes and this test times out).
    await runDurableObjectAlarm(stub(room));
    await watcher.until((events) => changes(events).includes("cursor:expire:ann"));
    expect(await ann.presence.getCursors.query()).toEqual([]);
  });

  it("still lists connected users after the room hibernates and wakes", async () => {
    const room = uniqueRoom();
    const ann = await open(room, "ann");
    ann.send({ id: 1, method: "mutation", params: { path: "presence.setPresence", input: { json: { status: { online: true } } } } });
    ann.send({ id: 2, method: "mutation", params: { path: "presence.setCursor", input: { json: { position: { line: 7 } } } } });
    await ann.waitForFrames(2);

    await evictDurableObject(stub(room), { webSockets: "hibernate" });

    const bob = await clientFor(room, "reader", "bob");
    expect(await bob.presence.getPresence.query()).toEqual([{ userId: "ann", status: { online: true }, updatedAt: expect.any(Number) }]);
    expect(await bob.presence.getCursors.query()).toEqual([{ userId: "ann", position: { line: 7 }, updatedAt: expect.any(Number) }]);
  });

  it("never writes SQLite: 1,000 updates leave the database and change log unchanged", async () => {
    const room = uniqueRoom();
    const ann = await open(room, "ann", "admin");
    const update = (n: number) => {
      const path = n % 3 === 0 ? "presence.setCursor" : n % 3 === 1 ? "presence.setPresence" : "memory.set";
      const input = n % 3 === 0 ? { position: { n } } : n % 3 === 1 ? { status: { n } } : { key: `k${n % 7}`, value: n };
      return { id: n, method: "mutation", params: { path, input: { json: input } } };
    };
    // A real write, and one update of each kind: the expiry alarm is now scheduled
    // (the runtime stores alarms in its own _cf_METADATA table, once).
    ann.send([
      { id: -1, method: "mutation", params: { path: "tasks.create", input: { json: { title: "a real write" } } } },
      update(0),
      update(1),
      update(2),
    ]);
    await ann.waitForFrames(4);
    // Replicate that write now, so no background sync push runs during the measurement.
    ann.send({ id: -2, method: "mutation", params: { path: "sync.forceSyncAll" } });
    await ann.waitForFrames(5);
    const snapshot = () =>
      runInDurableObject(stub(room), (_instance, state) => ({
        size: state.storage.sql.databaseSize,
        head: state.storage.sql.exec<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = '_changes'").one().seq,
        rows: state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM tasks").one().n,
      }));
    // (The expiry alarm lives in the runtime's own metadata and moves with time; it is not compared.)
    const before = await snapshot();

    for (let batch = 0; batch < 10; batch += 1) {
      ann.send(Array.from({ length: 100 }, (_, index) => update(3 + batch * 100 + index)));
    }
    await ann.waitForFrames(1_005);
    expect(await snapshot()).toEqual(before);
  });

  it("reports usage per kind", async () => {
    const ann = await clientFor(uniqueRoom(), "writer", "ann");
    await ann.memory.set.mutate({ key: "hot", value: { a: 1 }, ttlMs: 5_000 });
    expect(await ann.memory.get.query({ key: "hot" })).toMatchObject({ value: { a: 1 } });
    expect(await ann.memory.get.query({ key: "cold" })).toBeNull();
    expect(await ann.memory.delete.mutate({ key: "hot" })).toEqual({ key: "hot", deleted: true });
    await ann.presence.setCursor.mutate({ position: 1 });
    const stats = await ann.memory.stats.query();
    expect(stats.kinds.cache).toMatchObject({ sets: 1, hits: 1, misses: 1, deletes: 1, entries: 0, bytes: 0 });
    const cursorBytes = entryBytes("cursor", "ann", "1");
    expect(stats.total).toEqual({ entries: 1, bytes: cursorBytes });
    expect(stats.budgets).toEqual({
      presence: {
        users: 1,
        maxUsers: 1_000,
        refusedUsers: 0,
        entries: 1,
        maxEntries: 2_000,
        bytes: cursorBytes,
        maxBytes: expect.any(Number),
      },
      cache: { entries: 0, maxEntries: 10_000, bytes: 0, maxBytes: 12 * 1024 * 1024 },
    });
  });
});

describe("the memory store's two budgets", () => {
  it("keeps every other user's cursor and presence while a writer fills the cache three times past its budget", async () => {
    const room = uniqueRoom();
    const watcher = watch(await clientFor(room, "reader", "wanda"));
    const ann = await clientFor(room, "reader", "ann");
    const bob = await clientFor(room, "writer", "bob");
    const value = "x".repeat(60_000);
    // One socket per round: each round stays within a socket's request burst (DEFAULT_ROOM_LIMITS).
    const spammers: RawSocket[] = [];
    const perRound = Math.ceil(MAX_CACHE_BYTES / entryBytes("cache", "spam-0000", JSON.stringify(value))) + 15;
    let sent = 0;
    // Each round alone overfills the cache, so a shared LRU would evict everything
    // set before it. Between rounds ann and bob refresh (the test's cursor TTL is 2 s).
    for (let round = 0; round < 3; round += 1) {
      await ann.presence.setCursor.mutate({ position: { round } });
      await ann.presence.setPresence.mutate({ status: "here" });
      await bob.presence.setPresence.mutate({ status: "away" });
      const spammer = await open(room, "mallory");
      spammers.push(spammer);
      const before = sent;
      for (let index = 0; index < perRound; index += 15) {
        spammer.send(
          Array.from({ length: 15 }, () => {
            sent += 1;
            const key = `spam-${String(sent).padStart(4, "0")}`;
            return { id: sent, method: "mutation", params: { path: "memory.set", input: { json: { key, value } } } };
          }),
        );
      }
      await spammer.waitForFrames(sent - before, 15_000);
      expect(await bob.presence.getCursors.query()).toEqual([{ userId: "ann", position: { round }, updatedAt: expect.any(Number) }]);
      expect((await bob.presence.getPresence.query()).map((entry) => entry.userId)).toEqual(["ann", "bob"]);
    }
    expect(perRound).toBeLessThanOrEqual(DEFAULT_ROOM_LIMITS.requestBurst);
    for (const spammer of spammers) expect(spammer.frames.every((frame) => (frame as { result?: unknown }).result)).toBe(true);

    // The cache evicted its own least recently used entries and nothing else.
    expect(await bob.memory.get.query({ key: "spam-0001" })).toBeNull();
    expect(await bob.memory.get.query({ key: `spam-${String(sent).padStart(4, "0")}` })).toMatchObject({ value });
    const stats = await bob.memory.stats.query();
    expect(stats.budgets.cache.bytes).toBeLessThanOrEqual(MAX_CACHE_BYTES);
    expect(stats.budgets.cache.entries).toBeLessThanOrEqual(MAX_CACHE_ENTRIES);
    expect(stats.kinds.cache.evictions).toBe(sent - stats.kinds.cache.entries);
    expect(stats.kinds.cursor.evictions + stats.kinds.presence.evictions).toBe(0);
    expect(stats.budgets.presence).toMatchObject({ users: 2, entries: 3 });
    expect(changes(watcher.events).filter((change) => !/:(join|update):/.test(change))).toEqual([]);
  });
});

describe("the seed protocol's memory examples", () => {
  it("work exactly as the product documentation writes them", async () => {
    const room = uniqueRoom();
    const watcher = await open(room, "viewer", "reader");
    watcher.send(JSON.stringify({ action: "ping" }));
    await watcher.waitForFrames(1);

    const socket = await open(room, "user123");
    const ws = { send: (text: string) => socket.send(text) };
    const lastSeen = Date.now();
    // The four examples, verbatim apart from Date.now() being evaluated once.
    ws.send(
      JSON.stringify({
        action: "rpc",
        method: "setCursor",
        payload: {
          userId: "user123",
          position: { line: 42, column: 10, file: "index.ts" },
        },
      }),
    );
    ws.send(
      JSON.stringify({
        action: "rpc",
        method: "getCursors",
      }),
    );
    ws.send(
      JSON.stringify({
        action: "rpc",
        method: "setPresence",
        payload: {
          userId: "user123",
          status: { online: true, activity: "editing", lastSeen },
        },
      }),
    );
    ws.send(
      JSON.stringify({
        action: "rpc",
        method: "getPresence",
      }),
    );
    const answers = () =>
      socket.raw.map((text) => JSON.parse(text as string) as Record<string, unknown>).filter((frame) => frame["method"]);
    while (answers().length < 4) await socket.waitForFrames(socket.frames.length + 1);
    const frames = answers();
    expect(frames[0]).toMatchObject({ type: "rpc_result", method: "setCursor", data: { userId: "user123" } });
    expect(frames[1]).toEqual({
      type: "rpc_result",
      method: "getCursors",
      requestId: null,
      data: [{ userId: "user123", position: { line: 42, column: 10, file: "index.ts" }, updatedAt: expect.any(Number) }],
    });
    expect(frames[3]).toEqual({
      type: "rpc_result",
      method: "getPresence",
      requestId: null,
      data: [{ userId: "user123", status: { online: true, activity: "editing", lastSeen }, updatedAt: expect.any(Number) }],
    });

    // Every seed-protocol socket hears cursor and presence changes.
    await watcher.waitForFrames(3);
    const pushes = watcher.raw.slice(1).map((text) => JSON.parse(text as string) as unknown);
    expect(pushes).toEqual([
      {
        event: "memory_update",
        type: "cursors",
        data: { change: "join", userId: "user123", position: { line: 42, column: 10, file: "index.ts" }, updatedAt: expect.any(Number) },
      },
      {
        event: "memory_update",
        type: "presence",
        data: { change: "join", userId: "user123", status: { online: true, activity: "editing", lastSeen }, updatedAt: expect.any(Number) },
      },
    ]);
  });

  it("rejects another user's userId", async () => {
    const socket = await open(uniqueRoom(), "user123");
    socket.send({ action: "rpc", method: "setCursor", payload: { userId: "user999", position: {} }, requestId: 1 });
    await socket.waitForFrames(1);
    expect(JSON.parse(socket.raw[0] as string)).toMatchObject({ type: "rpc_error", requestId: 1, error: { code: "FORBIDDEN" } });
  });
});
