/**
 * The room's memory store: cursors, presence and short-lived cache entries
 * with TTLs, under two separate budgets — users for cursors and presence (a new
 * user beyond it is refused), entries and bytes for the cache (LRU eviction of
 * cache entries only). Never touches SQLite — it has no database handle at all.
 * Used by the presence and memory routers; the room rebuilds cursors and
 * presence from socket attachments on wake.
 */
import { EventEmitter } from "node:events";
import { CodedError } from "../lib/coded-error";
import {
  CURSOR_TTL_MS,
  MAX_CACHE_BYTES,
  MAX_CACHE_ENTRIES,
  MAX_PRESENCE_USER_BYTES,
  MAX_PRESENCE_USERS,
  MEMORY_SWEEP_GRANULARITY_MS,
  PRESENCE_TTL_MS,
} from "../lib/limits";

/** What an entry is for. Cursors and presence are keyed by user; cache entries by key. */
export const MEMORY_KINDS = ["cursor", "presence", "cache"] as const;
export type MemoryKind = (typeof MEMORY_KINDS)[number];

/** Why a watcher hears about a cursor or presence entry (they are never evicted). */
export type PresenceChange = "join" | "update" | "leave" | "expire";

/** A cursor or presence change, as sent to `presence.watch`. */
export interface PresenceEvent {
  kind: "cursor" | "presence";
  change: PresenceChange;
  userId: string;
  /** The position or status; null for leave and expire. */
  value: unknown;
  updatedAt: number;
}

/** A user's cursor or presence entry. */
export interface UserEntry {
  userId: string;
  value: unknown;
  updatedAt: number;
}

interface Entry {
  kind: MemoryKind;
  /** The user (cursor, presence) or the cache key. */
  name: string;
  value: unknown;
  bytes: number;
  updatedAt: number;
  expiresAt: number;
}

/** Usage counters of one kind. */
export interface KindStats {
  entries: number;
  bytes: number;
  sets: number;
  hits: number;
  misses: number;
  deletes: number;
  evictions: number;
  expirations: number;
}

export interface MemoryLimits {
  /** Most users with a cursor or presence entry; the next one is refused. */
  maxPresenceUsers: number;
  /** Cache entries and bytes; beyond either the least recently used cache entry is evicted. */
  maxCacheEntries: number;
  maxCacheBytes: number;
  cursorTtlMs: number;
  presenceTtlMs: number;
}

export const DEFAULT_MEMORY_LIMITS: MemoryLimits = {
  maxPresenceUsers: MAX_PRESENCE_USERS,
  maxCacheEntries: MAX_CACHE_ENTRIES,
  maxCacheBytes: MAX_CACHE_BYTES,
  cursorTtlMs: CURSOR_TTL_MS,
  presenceTtlMs: PRESENCE_TTL_MS,
};

/** Usage of the two budgets, as `memory.stats` reports it. */
export interface MemoryBudgets {
  /** Cursors and presence: bounded by users (entries and bytes follow from the per-user value limits). */
  presence: { users: number; maxUsers: number; refusedUsers: number; entries: number; maxEntries: number; bytes: number; maxBytes: number };
  cache: { entries: number; maxEntries: number; bytes: number; maxBytes: number };
}

/** A new user's cursor or presence would exceed the room's presence budget (answered TOO_MANY_REQUESTS). */
export class PresenceFullError extends CodedError {
  get code() {
    return "TOO_MANY_REQUESTS" as const;
  }
}

/** Event name under which `events` emits each PresenceEvent. */
export const PRESENCE_EVENT = "presence";

const encoder = new TextEncoder();

/** Bytes an entry is charged: its key and its serialized value, in UTF-8. */
export function entryBytes(kind: MemoryKind, name: string, json: string): number {
  return encoder.encode(kind).byteLength + encoder.encode(name).byteLength + encoder.encode(json).byteLength;
}

export class MemoryStore {
  /** Emits PRESENCE_EVENT with a PresenceEvent for every cursor/presence change. */
  readonly events = new EventEmitter().setMaxListeners(0);
  /** Cursors and presence, least recently updated first. Never evicted. */
  readonly #userEntries = new Map<string, Entry>();
  /** Cache entries; insertion order is recency order: the first is the least recently used. */
  readonly #cache = new Map<string, Entry>();
  /** Users holding a cursor or presence entry, with how many (1 or 2). */
  readonly #users = new Map<string, number>();
  readonly #stats = Object.fromEntries(MEMORY_KINDS.map((kind) => [kind, emptyStats()])) as Record<MemoryKind, KindStats>;
  #refusedUsers = 0;
  /** A lower bound of the earliest expiry (stale-early is fine: a sweep recomputes it). */
  #earliest = Number.POSITIVE_INFINITY;

  constructor(
    readonly limits: MemoryLimits = DEFAULT_MEMORY_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Sets the user's cursor; returns the stored entry. Throws PresenceFullError for a new user beyond the budget. */
  setCursor(userId: string, position: unknown): UserEntry {
    return this.#setUser("cursor", userId, position, this.limits.cursorTtlMs);
  }

  /** Sets the user's presence status; returns the stored entry. Throws PresenceFullError for a new user beyond the budget. */
  setPresence(userId: string, status: unknown): UserEntry {
    return this.#setUser("presence", userId, status, this.limits.presenceTtlMs);
  }

  /** Live cursors, least recently updated first. */
  cursors(): UserEntry[] {
    return this.#list("cursor");
  }

  /** Live presence entries, least recently updated first. */
  presence(): UserEntry[] {
    return this.#list("presence");
  }

  /** Sets a cache entry for `ttlMs`, evicting least recently used cache entries (only) beyond the cache budget. */
  set(key: string, value: unknown, ttlMs: number): { key: string; expiresAt: number } {
    const entry = this.#put("cache", key, value, ttlMs);
    return { key, expiresAt: entry.expiresAt };
  }

  /** A live cache entry, or undefined (counted as a miss). Refreshes its recency. */
  get(key: string): { value: unknown; expiresAt: number; updatedAt: number } | undefined {
    const stats = this.#stats.cache;
    const entry = this.#live("cache", key);
    if (!entry) {
      stats.misses += 1;
      return undefined;
    }
    stats.hits += 1;
    this.#touchCache(keyOf("cache", key), entry);
    return { value: entry.value, expiresAt: entry.expiresAt, updatedAt: entry.updatedAt };
  }

  /** Deletes a cache entry; false when there was none. */
  delete(key: string): boolean {
    const entry = this.#live("cache", key);
    if (!entry) return false;
    this.#remove(keyOf("cache", key), entry);
    this.#stats.cache.deletes += 1;
    return true;
  }

  /** Removes a user's cursor and presence (their last socket closed); watchers get `leave`. */
  removeUser(userId: string): void {
    for (const kind of ["cursor", "presence"] as const) {
      const key = keyOf(kind, userId);
      const entry = this.#userEntries.get(key);
      if (!entry) continue;
      this.#remove(key, entry);
      this.#stats[kind].deletes += 1;
      this.#emit({ kind, change: "leave", userId, value: null, updatedAt: this.now() });
    }
  }

  /**
   * Puts back a cursor or presence entry remembered in a socket attachment
   * when the room wakes. Silent (watchers already knew it); keeps the newer of
   * two sockets' entries; expired ones are swept (and announced) later. Not
   * refused: the user was admitted when the entry was first set.
   */
  restore(kind: "cursor" | "presence", userId: string, value: unknown, updatedAt: number): void {
    const key = keyOf(kind, userId);
    const existing = this.#userEntries.get(key);
    if (existing && existing.updatedAt >= updatedAt) return;
    const ttl = kind === "cursor" ? this.limits.cursorTtlMs : this.limits.presenceTtlMs;
    this.#store(key, kind, userId, value, JSON.stringify(value), updatedAt, updatedAt + ttl);
  }

  /** Removes every expired entry, announcing cursor and presence expiries. Returns how many expired. */
  sweep(): number {
    const now = this.now();
    let expired = 0;
    let earliest = Number.POSITIVE_INFINITY;
    for (const pool of [this.#userEntries, this.#cache]) {
      for (const [key, entry] of pool) {
        if (entry.expiresAt <= now) {
          this.#expire(key, entry);
          expired += 1;
        } else {
          earliest = Math.min(earliest, entry.expiresAt);
        }
      }
    }
    this.#earliest = earliest;
    return expired;
  }

  /** When the next sweep is due (rounded up to MEMORY_SWEEP_GRANULARITY_MS), or null with nothing to expire. */
  nextSweep(): number | null {
    if (this.#earliest === Number.POSITIVE_INFINITY) return null;
    return Math.ceil(this.#earliest / MEMORY_SWEEP_GRANULARITY_MS) * MEMORY_SWEEP_GRANULARITY_MS;
  }

  /** Usage in total, per budget and per kind. */
  stats(): { total: { entries: number; bytes: number }; budgets: MemoryBudgets; kinds: Record<MemoryKind, KindStats> } {
    const { cursor, presence, cache } = this.#stats;
    const { maxPresenceUsers, maxCacheEntries, maxCacheBytes } = this.limits;
    return {
      total: { entries: cursor.entries + presence.entries + cache.entries, bytes: cursor.bytes + presence.bytes + cache.bytes },
      budgets: {
        presence: {
          users: this.#users.size,
          maxUsers: maxPresenceUsers,
          refusedUsers: this.#refusedUsers,
          entries: cursor.entries + presence.entries,
          maxEntries: 2 * maxPresenceUsers,
          bytes: cursor.bytes + presence.bytes,
          maxBytes: maxPresenceUsers * MAX_PRESENCE_USER_BYTES,
        },
        cache: { entries: cache.entries, maxEntries: maxCacheEntries, bytes: cache.bytes, maxBytes: maxCacheBytes },
      },
      kinds: structuredClone(this.#stats),
    };
  }

  #setUser(kind: "cursor" | "presence", userId: string, value: unknown, ttlMs: number): UserEntry {
    const joined = !this.#live(kind, userId);
    if (!this.#users.has(userId)) this.#admit(userId);
    const entry = this.#put(kind, userId, value, ttlMs);
    this.#emit({ kind, change: joined ? "join" : "update", userId, value, updatedAt: entry.updatedAt });
    return { userId, value, updatedAt: entry.updatedAt };
  }

  /** Makes room for a new user: expired entries are swept first; a full room refuses. */
  #admit(userId: string): void {
    if (this.#users.size < this.limits.maxPresenceUsers) return;
    this.sweep();
    if (this.#users.size < this.limits.maxPresenceUsers) return;
    this.#refusedUsers += 1;
    throw new PresenceFullError(
      `this room already has cursors or presence of ${this.limits.maxPresenceUsers} users (the most it keeps); ` +
        `"${userId}" can join when someone leaves or their entries expire`,
    );
  }

  #put(kind: MemoryKind, name: string, value: unknown, ttlMs: number): Entry {
    const now = this.now();
    const entry = this.#store(keyOf(kind, name), kind, name, value, JSON.stringify(value), now, now + ttlMs);
    this.#stats[kind].sets += 1;
    if (kind === "cache") this.#evictCacheOverflow(entry);
    return entry;
  }

  #pool(kind: MemoryKind): Map<string, Entry> {
    return kind === "cache" ? this.#cache : this.#userEntries;
  }

  #store(key: string, kind: MemoryKind, name: string, value: unknown, json: string, updatedAt: number, expiresAt: number): Entry {
    const pool = this.#pool(kind);
    const previous = pool.get(key);
    if (previous) this.#remove(key, previous);
    const entry: Entry = { kind, name, value, bytes: entryBytes(kind, name, json), updatedAt, expiresAt };
    pool.set(key, entry);
    if (kind !== "cache") this.#users.set(name, (this.#users.get(name) ?? 0) + 1);
    this.#stats[kind].entries += 1;
    this.#stats[kind].bytes += entry.bytes;
    this.#earliest = Math.min(this.#earliest, expiresAt);
    return entry;
  }

  /** Evicts least recently used cache entries (never `keep`, never a cursor or presence) until the cache is within its budget. */
  #evictCacheOverflow(keep: Entry): void {
    const stats = this.#stats.cache;
    for (const [key, entry] of this.#cache) {
      if (stats.entries <= this.limits.maxCacheEntries && stats.bytes <= this.limits.maxCacheBytes) return;
      if (entry === keep) continue;
      this.#remove(key, entry);
      stats.evictions += 1;
    }
  }

  #remove(key: string, entry: Entry): void {
    this.#pool(entry.kind).delete(key);
    if (entry.kind !== "cache") {
      const held = (this.#users.get(entry.name) ?? 1) - 1;
      if (held === 0) this.#users.delete(entry.name);
      else this.#users.set(entry.name, held);
    }
    this.#stats[entry.kind].entries -= 1;
    this.#stats[entry.kind].bytes -= entry.bytes;
  }

  #expire(key: string, entry: Entry): void {
    this.#remove(key, entry);
    this.#stats[entry.kind].expirations += 1;
    if (entry.kind !== "cache")
      this.#emit({ kind: entry.kind, change: "expire", userId: entry.name, value: null, updatedAt: entry.expiresAt });
  }

  /** The entry if present and not expired; an expired one is removed on the spot. */
  #live(kind: MemoryKind, name: string): Entry | undefined {
    const key = keyOf(kind, name);
    const entry = this.#pool(kind).get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > this.now()) return entry;
    this.#expire(key, entry);
    return undefined;
  }

  /** Marks a cache entry most recently used. */
  #touchCache(key: string, entry: Entry): void {
    this.#cache.delete(key);
    this.#cache.set(key, entry);
  }

  #list(kind: "cursor" | "presence"): UserEntry[] {
    const now = this.now();
    const list: UserEntry[] = [];
    for (const [key, entry] of this.#userEntries) {
      if (entry.kind !== kind) continue;
      if (entry.expiresAt <= now) {
        this.#expire(key, entry);
        continue;
      }
      list.push({ userId: entry.name, value: entry.value, updatedAt: entry.updatedAt });
    }
    this.#stats[kind].hits += 1;
    return list;
  }

  #emit(event: PresenceEvent): void {
    this.events.emit(PRESENCE_EVENT, event);
  }
}

function keyOf(kind: MemoryKind, name: string): string {
  return `${kind}\u0000${name}`;
}

function emptyStats(): KindStats {
  return { entries: 0, bytes: 0, sets: 0, hits: 0, misses: 0, deletes: 0, evictions: 0, expirations: 0 };
}
