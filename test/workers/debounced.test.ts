import { abortAllDurableObjects, env, runInDurableObject } from "cloudflare:test";
import { drizzle } from "drizzle-orm/durable-sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { DebouncedWriter, type Clock, type DebouncedEvent } from "../../src/debounce/debounced-writer";
import { clientFor, closeClients, tokenFor, uniqueRoom } from "../helpers/clients";
import { RawSocket } from "../helpers/worker-socket";

afterEach(closeClients);

const stub = (room: string) => env.ROOMS.get(env.ROOMS.idFromName(room));

/** The stored (flushed) JSON of a debounced key in the room's SQLite, or null. */
function storedValue(room: string, key: string) {
  return runInDurableObject(stub(room), (_instance, state) => {
    const rows = state.storage.sql.exec<{ value: string }>("SELECT value FROM _debounced_state WHERE key = ?", key).toArray();
    return rows[0]?.value ?? null;
  });
}

/** A clock whose timers run only when the test advances time. */
class ManualClock implements Clock {
  time = 1_700_000_000_000;
  #timers = new Map<number, { at: number; run: () => void }>();
  #next = 0;
  now = () => this.time;
  setTimer = (run: () => void, ms: number) => {
    this.#next += 1;
    this.#timers.set(this.#next, { at: this.time + ms, run });
    return this.#next;
  };
  clearTimer = (handle: unknown) => void this.#timers.delete(handle as number);
  /** Moves time forward by `ms`, running every timer that comes due, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.#timers.entries()].filter(([, timer]) => timer.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].run();
    }
    this.time = end;
  }
}

/**
 * Runs `body` inside a fresh room with a writer on the room's real SQLite and
 * a manual clock. `writes(key)` counts the change-log entries the writer caused.
 */
function withWriter<T>(
  body: (tools: { writer: DebouncedWriter; clock: ManualClock; writes: (key?: string) => number; sql: SqlStorage }) => T,
) {
  return runInDurableObject(stub(uniqueRoom("debounce")), (_instance, state) => {
    const clock = new ManualClock();
    const writer = new DebouncedWriter(drizzle(state.storage), () => undefined, clock);
    const writes = (key?: string) =>
      state.storage.sql
        .exec<{ n: number }>(
          "SELECT count(*) AS n FROM _changes c JOIN _debounced_state d ON d.id = c.pk WHERE c.tbl = '_debounced_state' AND (? IS NULL OR d.key = ?)",
          key ?? null,
          key ?? null,
        )
        .one().n;
    return body({ writer, clock, writes, sql: state.storage.sql });
  });
}

describe("the debounced writer (manual clock, real SQLite)", () => {
  it("writes 100 updates in one second as exactly one write holding the last value", async () => {
    await withWriter(({ writer, clock, writes }) => {
      for (let index = 1; index <= 100; index += 1) {
        writer.update("slider", index, "ann");
        clock.advance(9);
      }
      expect(writes()).toBe(0);
      clock.advance(200);
      expect(writes()).toBe(1);
      expect(writer.get("slider")).toMatchObject({ value: 100, pending: false, updatedBy: "ann" });
      expect(writer.stats()).toMatchObject({
        updatesReceived: 100,
        sqliteWrites: 1,
        coalescingRatio: 100,
        pendingKeys: 0,
        pendingBytes: 0,
      });
    });
  });

  it("keeps writing about once a second while updates never stop (a throttle, not a reset-on-write debounce)", async () => {
    await withWriter(({ writer, clock, writes }) => {
      for (let index = 0; index < 300; index += 1) {
        writer.update("slider", index, "ann");
        clock.advance(1000 / 60);
      }
      expect(writes()).toBeGreaterThanOrEqual(4);
      expect(writes()).toBeLessThanOrEqual(5);
      clock.advance(1_000);
      expect(writes()).toBeGreaterThanOrEqual(5);
      expect(writes()).toBeLessThanOrEqual(6);
      expect(writer.get("slider")).toMatchObject({ value: 299, pending: false });
    });
  });

  it("honours a per-key interval", async () => {
    await withWriter(({ writer, clock, writes }) => {
      for (let tick = 0; tick < 200; tick += 1) {
        writer.update("fast", tick, "ann", tick === 0 ? 200 : undefined);
        writer.update("slow", tick, "ann", tick === 0 ? 2_000 : undefined);
        clock.advance(10);
      }
      clock.advance(2_000);
      expect(writes("fast")).toBeGreaterThanOrEqual(9);
      expect(writes("fast")).toBeLessThanOrEqual(11);
      expect(writes("slow")).toBe(1);
    });
  });

  it("keeps pending-byte accounting exact after 100,000 overwrites", async () => {
    await withWriter(({ writer }) => {
      for (let index = 0; index < 100_000; index += 1) writer.update("hot", { n: index, pad: "z".repeat(index % 40) }, "ann");
      const last = JSON.stringify({ n: 99_999, pad: "z".repeat(99_999 % 40) });
      expect(writer.stats().pendingBytes).toBe("hot".length + last.length);
      expect(writer.stats().pendingKeys).toBe(1);
    });
  });

  it("bounds pending bytes per room with a clear error", async () => {
    await runInDurableObject(stub(uniqueRoom("debounce")), (_instance, state) => {
      const writer = new DebouncedWriter(drizzle(state.storage), () => undefined, new ManualClock(), 1_000);
      writer.update("a", "x".repeat(600), "ann");
      expect(() => writer.update("b", "x".repeat(600), "ann")).toThrow(/would exceed 1000 bytes/);
      writer.update("a", "x".repeat(900), "ann"); // replacing a value frees its bytes first
      expect(writer.stats().pendingKeys).toBe(1);
    });
  });

  it("keeps values pending when a flush fails, reports it, and writes them once SQLite recovers", async () => {
    await withWriter(({ writer, clock, writes, sql }) => {
      sql.exec("CREATE TRIGGER fail_debounced BEFORE INSERT ON _debounced_state BEGIN SELECT RAISE(ABORT, 'disk is full'); END");
      writer.update("doc", { text: "precious" }, "ann");
      expect(() => writer.flush()).toThrow(/disk is full/);
      clock.advance(1_500); // the timer's attempt fails too
      expect(writer.stats()).toMatchObject({ pendingKeys: 1, flushErrors: 2, lastFlushError: expect.stringContaining("disk is full") });
      expect(writer.get("doc")).toMatchObject({ value: { text: "precious" }, pending: true });

      sql.exec("DROP TRIGGER fail_debounced");
      clock.advance(1_500);
      expect(writes("doc")).toBe(1);
      expect(writer.get("doc")).toMatchObject({ value: { text: "precious" }, pending: false });
    });
  });

  it("shows every accepted update to watchers before it is persisted", async () => {
    await withWriter(({ writer, clock }) => {
      const seen: DebouncedEvent[] = [];
      writer.events.on("debounced", (event: DebouncedEvent) => seen.push(event));
      for (let index = 0; index < 10; index += 1) writer.update("slider", index, "ann");
      expect(seen.map((event) => (event.type === "update" ? event.value : "flush"))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      clock.advance(1_000);
      expect(seen.at(-1)).toMatchObject({ type: "flush", keys: ["slider"] });
    });
  });
});

describe("debounced values in a room", () => {
  it("flushes on demand and reads back pending and persisted values", async () => {
    const room = uniqueRoom();
    const client = await clientFor(room);
    await client.debounced.update.mutate({ key: "volume", value: 7 });
    expect(await client.debounced.get.query({ key: "volume" })).toMatchObject({ value: 7, pending: true, updatedBy: "alice" });
    expect(await client.debounced.flush.mutate({})).toEqual({ flushed: 1, keys: ["volume"], seq: expect.any(Number) });
    expect(await client.debounced.get.query({ key: "volume" })).toMatchObject({ value: 7, pending: false });
    expect(await client.debounced.get.query({ key: "never" })).toBeNull();
    expect(await client.debounced.stats.query()).toMatchObject({ updatesReceived: 1, sqliteWrites: 1, pendingKeys: 0 });
  });

  it("acknowledges an update before it is durable: broadcast at once, in SQLite only after its flush", async () => {
    const room = uniqueRoom();
    const client = await clientFor(room);
    const accepted = await client.debounced.update.mutate({ key: "draft", value: { text: "hello" }, intervalMs: 60_000 });
    expect(accepted).toMatchObject({ key: "draft", pending: true });
    expect(accepted.flushBy).toBeGreaterThan(Date.now() + 50_000);
    expect(await storedValue(room, "draft")).toBeNull();

    const flushed = await client.debounced.flush.mutate({ key: "draft" });
    expect(flushed).toMatchObject({ flushed: 1, keys: ["draft"] });
    // The answer came after the write: the value is in the room's SQLite, at the seq the flush returned.
    expect(await storedValue(room, "draft")).toBe(JSON.stringify({ text: "hello" }));
    const head = await runInDurableObject(stub(room), (_instance, state) =>
      state.storage.sql.exec<{ seq: number }>("SELECT max(seq) AS seq FROM _changes").one(),
    );
    expect(flushed.seq).toBe(head.seq);
  });

  it("flush-and-wait keeps the value through a crash of the room right after its answer", async () => {
    const room = uniqueRoom();
    const client = await clientFor(room);
    await client.debounced.update.mutate({ key: "kept", value: 1, intervalMs: 60_000 });
    await client.debounced.update.mutate({ key: "lost", value: 2, intervalMs: 60_000 });
    expect(await client.debounced.flush.mutate({ key: "kept" })).toMatchObject({ flushed: 1, keys: ["kept"] });
    await abortAllDurableObjects(); // a crash right after the answer: nothing in memory survives
    const fresh = await clientFor(room, "writer", "bob");
    expect(await fresh.debounced.get.query({ key: "kept" })).toMatchObject({ value: 1, pending: false });
    expect(await fresh.debounced.get.query({ key: "lost" })).toBeNull(); // accepted, never flushed: gone with the room
  });

  it("flush answers a seq that sync.replicated turns into a D1 confirmation", async () => {
    const room = uniqueRoom();
    const client = await clientFor(room);
    await client.debounced.update.mutate({ key: "level", value: 9 });
    const { seq } = await client.debounced.flush.mutate({});
    expect((await client.sync.replicated.query({ seq })).replicatedSeq).toBeGreaterThanOrEqual(seq);
    const row = await env.DB.prepare("SELECT value FROM _debounced_state WHERE room_id = ? AND key = ?").bind(room, "level").first();
    expect(row).toEqual({ value: "9" });
    // Nothing pending: flushing again writes nothing and answers the current seq.
    expect(await client.debounced.flush.mutate({})).toEqual({ flushed: 0, keys: [], seq });
  });

  it("writes a value within its interval by the room's own timer", async () => {
    const room = uniqueRoom();
    const client = await clientFor(room);
    await client.debounced.update.mutate({ key: "quick", value: "soon", intervalMs: 200 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await client.debounced.get.query({ key: "quick" })).toMatchObject({ value: "soon", pending: false });
  });

  it("writes pending values when the room's last socket leaves", async () => {
    const room = uniqueRoom();
    const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room)}`);
    socket.send({
      id: 1,
      method: "mutation",
      params: { path: "debounced.update", input: { json: { key: "draft", value: "unsaved", intervalMs: 60_000 } } },
    });
    await socket.waitForFrames(1);
    socket.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const row = await runInDurableObject(stub(room), (_instance, state) =>
      state.storage.sql.exec<{ value: string }>("SELECT value FROM _debounced_state WHERE key = 'draft'").toArray(),
    );
    expect(row).toEqual([{ value: '"unsaved"' }]);
  });

  it("refuses a value over 100 KB and readers' updates", async () => {
    const room = uniqueRoom();
    const writer = await clientFor(room);
    await expect(writer.debounced.update.mutate({ key: "big", value: "x".repeat(100_000 - 2) })).resolves.toMatchObject({ pending: true });
    await expect(writer.debounced.update.mutate({ key: "big", value: "x".repeat(100_000 - 1) })).rejects.toMatchObject({
      data: {
        code: "BAD_REQUEST",
        issues: [expect.objectContaining({ path: "value", message: "value must be at most 100000 bytes as JSON" })],
      },
    });
    const reader = await clientFor(room, "reader", "rita");
    await expect(reader.debounced.update.mutate({ key: "k", value: 1 })).rejects.toMatchObject({ data: { code: "FORBIDDEN" } });
    expect(await reader.debounced.get.query({ key: "big" })).toMatchObject({ pending: true });
  });

  it("pushes every update to watchers at once", async () => {
    const room = uniqueRoom();
    const watcher = await clientFor(room, "reader", "rita");
    const writer = await clientFor(room);
    const seen: DebouncedEvent[] = [];
    let done: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (done = resolve));
    const started = new Promise<void>((resolve) => {
      watcher.debounced.watch.subscribe(undefined, {
        onStarted: () => resolve(),
        onData: (event) => {
          seen.push(event);
          if (seen.filter((item) => item.type === "update").length === 20) done();
        },
      });
    });
    await started;
    const updates = Array.from({ length: 20 }, (_, index) => writer.debounced.update.mutate({ key: "slider", value: index }));
    await Promise.all(updates);
    await all;
    expect(seen.filter((event) => event.type === "update").map((event) => (event.type === "update" ? event.value : null))).toEqual(
      Array.from({ length: 20 }, (_, index) => index),
    );
  });

  it("runs the product documentation's examples as written", async () => {
    const room = uniqueRoom();
    const socket = await RawSocket.open(`/rooms/${room}/ws?token=${await tokenFor(room, "writer", "user123")}`);
    const ws = { send: (text: string) => socket.send(text) };
    const e = { target: { value: "73" }, clientX: 10, clientY: 20 };
    const userId = "user123";
    // Slider, force flush and canvas examples, verbatim.
    ws.send(
      JSON.stringify({
        action: "rpc",
        method: "updateDebounced",
        payload: {
          key: "slider:brightness",
          value: e.target.value,
        },
      }),
    );
    ws.send(
      JSON.stringify({
        action: "rpc",
        method: "flushDebounced",
      }),
    );
    ws.send(
      JSON.stringify({
        action: "rpc",
        method: "updateDebounced",
        payload: {
          key: `cursor:${userId}`,
          value: { x: e.clientX, y: e.clientY, timestamp: Date.now() },
        },
      }),
    );
    await socket.waitForFrames(3);
    const frames = socket.raw.map((text) => JSON.parse(text as string) as Record<string, unknown>);
    expect(frames[0]).toMatchObject({ type: "rpc_result", method: "updateDebounced", data: { key: "slider:brightness", pending: true } });
    expect(frames[1]).toEqual({
      type: "rpc_result",
      method: "flushDebounced",
      requestId: null,
      data: { flushed: 1, keys: ["slider:brightness"], seq: expect.any(Number) },
    });
    expect(frames[2]).toMatchObject({ type: "rpc_result", method: "updateDebounced", data: { key: "cursor:user123" } });
    socket.send({ action: "rpc", method: "getDebounced", payload: { key: "slider:brightness" } });
    await socket.waitForFrames(4);
    expect(JSON.parse(socket.raw[3] as string)).toMatchObject({ data: { value: "73", pending: false, updatedBy: "user123" } });
    socket.close();
  });
});
