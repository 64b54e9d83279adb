import { describe, expect, it } from "vitest";
import { CURSOR_TTL_MS, PRESENCE_TTL_MS } from "../../src/lib/limits";
import { DEFAULT_MEMORY_LIMITS, entryBytes, MemoryStore, PRESENCE_EVENT, type PresenceEvent } from "../../src/presence/memory-store";

/** A store on a clock the test moves by hand. */
function storeAt(limits = DEFAULT_MEMORY_LIMITS) {
  const clock = { now: 1_000_000 };
  const store = new MemoryStore(limits, () => clock.now);
  const events: PresenceEvent[] = [];
  store.events.on(PRESENCE_EVENT, (event: PresenceEvent) => events.push(event));
  return { store, clock, events };
}

describe("the memory store", () => {
  it("expires cursors after 30 s and presence after 60 s by default", () => {
    expect(DEFAULT_MEMORY_LIMITS.cursorTtlMs).toBe(30_000);
    expect(DEFAULT_MEMORY_LIMITS.presenceTtlMs).toBe(60_000);
    const { store, clock, events } = storeAt();
    store.setCursor("ann", { x: 1 });
    store.setPresence("ann", { online: true });

    clock.now += CURSOR_TTL_MS - 1;
    expect(store.cursors()).toHaveLength(1);
    clock.now += 1;
    expect(store.cursors()).toEqual([]);
    expect(store.presence()).toHaveLength(1);
    clock.now += PRESENCE_TTL_MS - CURSOR_TTL_MS;
    expect(store.presence()).toEqual([]);
    expect(events.map((event) => `${event.kind}:${event.change}`)).toEqual([
      "cursor:join",
      "presence:join",
      "cursor:expire",
      "presence:expire",
    ]);
    expect(store.stats().kinds.cursor.expirations).toBe(1);
  });

  it("sweeps expired entries and tells when the next sweep is due", () => {
    const { store, clock, events } = storeAt();
    expect(store.nextSweep()).toBeNull();
    store.setCursor("ann", 1);
    store.set("k", "v", 5_000);
    expect(store.nextSweep()).toBe(Math.ceil((clock.now + 5_000) / 1000) * 1000);
    clock.now += 5_000;
    expect(store.sweep()).toBe(1);
    expect(store.nextSweep()).toBe(Math.ceil((clock.now - 5_000 + CURSOR_TTL_MS) / 1000) * 1000);
    clock.now += CURSOR_TTL_MS;
    expect(store.sweep()).toBe(1);
    expect(events.at(-1)).toMatchObject({ kind: "cursor", change: "expire", userId: "ann" });
    expect(store.stats().total).toMatchObject({ entries: 0, bytes: 0 });
  });

  it("never returns an expired cache entry and counts hits and misses", () => {
    const { store, clock } = storeAt();
    store.set("greeting", { hello: "world" }, 1_000);
    expect(store.get("greeting")?.value).toEqual({ hello: "world" });
    clock.now += 1_000;
    expect(store.get("greeting")).toBeUndefined();
    expect(store.get("never-set")).toBeUndefined();
    expect(store.stats().kinds.cache).toMatchObject({ hits: 1, misses: 2, expirations: 1, entries: 0, bytes: 0 });
  });

  it("evicts the least recently used entry at the entry bound and tells watchers", () => {
    const { store, events } = storeAt({ ...DEFAULT_MEMORY_LIMITS, maxEntries: 3 });
    store.setCursor("ann", 1);
    store.set("a", 1, 60_000);
    store.set("b", 2, 60_000);
    store.get("a");
    store.setCursor("ann", 2); // refreshes ann: "b" is now least recently used
    store.set("c", 3, 60_000);
    expect(store.get("b")).toBeUndefined();
    expect(store.get("a")?.value).toBe(1);
    store.set("d", 4, 60_000); // evicts ann's cursor, the least recently used now
    expect(store.cursors()).toEqual([]);
    expect(events.at(-1)).toMatchObject({ kind: "cursor", change: "evict", userId: "ann" });
    expect(store.stats().kinds.cache.evictions).toBe(1);
    expect(store.stats().total.entries).toBe(3);
  });

  it("evicts at the byte bound", () => {
    const one = entryBytes("cache", "k0", JSON.stringify("x".repeat(100)));
    const { store } = storeAt({ ...DEFAULT_MEMORY_LIMITS, maxBytes: one * 3 });
    for (let index = 0; index < 5; index += 1) store.set(`k${index}`, "x".repeat(100), 60_000);
    expect(store.stats().total).toMatchObject({ entries: 3, bytes: one * 3 });
    expect(store.get("k0")).toBeUndefined();
    expect(store.get("k4")).toBeDefined();
  });

  it("keeps byte accounting exact after 100,000 overwrites of one key", () => {
    const { store } = storeAt();
    for (let index = 0; index < 100_000; index += 1) store.set("hot", { n: index, pad: "y".repeat(index % 50) }, 60_000);
    store.setCursor("ann", { line: 1 });
    for (let index = 0; index < 100_000; index += 1) store.setCursor("ann", { line: index });
    const expected =
      entryBytes("cache", "hot", JSON.stringify({ n: 99_999, pad: "y".repeat(99_999 % 50) })) +
      entryBytes("cursor", "ann", JSON.stringify({ line: 99_999 }));
    expect(store.stats().total).toMatchObject({ entries: 2, bytes: expected });
    expect(store.stats().kinds.cache).toMatchObject({ entries: 1, sets: 100_000 });
  });

  it("restores the newer of two remembered entries, silently", () => {
    const { store, events } = storeAt();
    store.restore("presence", "ann", { tab: 1 }, 999_000);
    store.restore("presence", "ann", { tab: 2 }, 999_500);
    store.restore("presence", "ann", { tab: 0 }, 998_000);
    expect(store.presence()).toEqual([{ userId: "ann", value: { tab: 2 }, updatedAt: 999_500 }]);
    expect(events).toEqual([]);
  });

  it("announces leave when a user's entries are removed", () => {
    const { store, events } = storeAt();
    store.setCursor("ann", 1);
    store.setPresence("ann", "here");
    store.removeUser("ann");
    expect(events.slice(2).map((event) => `${event.kind}:${event.change}`)).toEqual(["cursor:leave", "presence:leave"]);
    expect(store.stats().total).toMatchObject({ entries: 0, bytes: 0 });
  });
});
