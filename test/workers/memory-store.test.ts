import { describe, expect, it } from "vitest";
import { CURSOR_TTL_MS, MAX_PRESENCE_USERS, PRESENCE_TTL_MS } from "../../src/lib/limits";
import {
  DEFAULT_MEMORY_LIMITS,
  entryBytes,
  MemoryStore,
  PRESENCE_EVENT,
  PresenceFullError,
  type PresenceEvent,
} from "../../src/presence/memory-store";

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

  it("evicts the least recently used cache entry at the cache's entry bound", () => {
    const { store } = storeAt({ ...DEFAULT_MEMORY_LIMITS, maxCacheEntries: 3 });
    store.set("a", 1, 60_000);
    store.set("b", 2, 60_000);
    store.set("c", 3, 60_000);
    store.get("a"); // "b" is now least recently used
    store.set("d", 4, 60_000);
    expect(store.get("b")).toBeUndefined();
    expect(store.get("a")?.value).toBe(1);
    store.set("e", 5, 60_000); // "c" is least recently used now
    expect(store.get("c")).toBeUndefined();
    expect(store.stats().kinds.cache).toMatchObject({ entries: 3, evictions: 2 });
  });

  it("evicts at the cache's byte bound", () => {
    const one = entryBytes("cache", "k0", JSON.stringify("x".repeat(100)));
    const { store } = storeAt({ ...DEFAULT_MEMORY_LIMITS, maxCacheBytes: one * 3 });
    for (let index = 0; index < 5; index += 1) store.set(`k${index}`, "x".repeat(100), 60_000);
    expect(store.stats().budgets.cache).toMatchObject({ entries: 3, bytes: one * 3, maxBytes: one * 3 });
    expect(store.get("k0")).toBeUndefined();
    expect(store.get("k4")).toBeDefined();
  });

  it("never evicts a cursor or presence, however far the cache is filled past its budget", () => {
    const one = entryBytes("cache", "k000", JSON.stringify("x".repeat(100)));
    const { store, clock, events } = storeAt({ ...DEFAULT_MEMORY_LIMITS, maxCacheEntries: 5, maxCacheBytes: one * 5 });
    store.setCursor("ann", { line: 1 });
    store.setPresence("ann", "here");
    store.setPresence("bob", "away");
    clock.now += 1_000; // ann and bob are now the least recently used entries in the room
    for (let index = 0; index < 1_000; index += 1) store.set(`k${String(index).padStart(3, "0")}`, "x".repeat(100), 60_000);

    expect(store.cursors()).toEqual([{ userId: "ann", value: { line: 1 }, updatedAt: 1_000_000 }]);
    expect(store.presence().map((entry) => entry.userId)).toEqual(["ann", "bob"]);
    expect(events.map((event) => event.change)).toEqual(["join", "join", "join"]);
    // The cache kept its five most recently used entries.
    expect(store.get("k994")).toBeUndefined();
    expect([995, 996, 997, 998, 999].map((index) => store.get(`k${index}`)?.value)).toEqual(Array(5).fill("x".repeat(100)));
    const stats = store.stats();
    expect(stats.kinds.cache).toMatchObject({ entries: 5, bytes: one * 5, evictions: 995 });
    expect(stats.kinds.cursor.evictions + stats.kinds.presence.evictions).toBe(0);
    expect(stats.budgets.presence).toMatchObject({ users: 2, entries: 3 });
  });

  it("accepts the presence of MAX_PRESENCE_USERS users and refuses the next, without touching anyone's entries", () => {
    const { store, events } = storeAt();
    for (let index = 0; index < MAX_PRESENCE_USERS; index += 1) store.setPresence(`user-${index}`, "here");
    const refused = (() => {
      try {
        store.setCursor("late", { line: 1 });
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(PresenceFullError);
    expect(refused).toMatchObject({ code: "TOO_MANY_REQUESTS", message: expect.stringContaining(`${MAX_PRESENCE_USERS} users`) });
    expect(store.presence()).toHaveLength(MAX_PRESENCE_USERS);
    expect(store.cursors()).toEqual([]);
    expect(events.filter((event) => event.change !== "join")).toEqual([]);
    // Admitted users still update, and add their other kind.
    store.setCursor("user-0", { line: 2 });
    store.setPresence("user-1", "away");
    expect(store.stats().budgets.presence).toMatchObject({ users: MAX_PRESENCE_USERS, maxUsers: MAX_PRESENCE_USERS, refusedUsers: 1 });
  });

  it("admits a new user once someone leaves or expires", () => {
    const { store, clock, events } = storeAt({ ...DEFAULT_MEMORY_LIMITS, maxPresenceUsers: 2 });
    store.setPresence("ann", "here");
    store.setCursor("bob", 1);
    expect(() => store.setPresence("cat", "here")).toThrow(PresenceFullError);
    store.removeUser("ann");
    store.setPresence("cat", "here");
    expect(() => store.setCursor("dan", 1)).toThrow(PresenceFullError);
    clock.now += CURSOR_TTL_MS; // bob's cursor has expired, unswept: admitting dan sweeps it
    store.setCursor("dan", 1);
    expect(store.cursors().map((entry) => entry.userId)).toEqual(["dan"]);
    expect(events.filter((event) => event.change === "expire")).toEqual([expect.objectContaining({ kind: "cursor", userId: "bob" })]);
    expect(store.stats().budgets.presence).toMatchObject({ users: 2, refusedUsers: 2, maxEntries: 4 });
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
