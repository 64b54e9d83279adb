/**
 * The debounced writer: accepts many updates a second per key, shows each to
 * watchers at once, and persists each key to `_debounced_state` at most once
 * per interval — a throttle with a trailing flush, so a key updated without
 * pause is still written every interval (a reset-on-every-write debounce would
 * never write). Used by the debounced router; the room gives it the database,
 * a clock and timers, and flushes it on demand, on last disconnect and from its
 * alarm.
 */
import { eq, sql } from "drizzle-orm";
import { EventEmitter } from "node:events";
import { debouncedState as debouncedTables } from "../../schema/engine";
import { CodedError } from "../lib/coded-error";
import type { RoomDatabase } from "../lib/room-database";
import { DEFAULT_DEBOUNCE_INTERVAL_MS, MAX_DEBOUNCED_PENDING_BYTES } from "../lib/limits";
import { DEFAULT_ROOM_LIMITS } from "../protocol/room-limits";

const debouncedState = debouncedTables.room;

/** A value awaiting its flush. */
interface Pending {
  value: unknown;
  json: string;
  bytes: number;
  updatedBy: string;
  updatedAt: number;
  /** When it must be written: the first unflushed update + the key's interval. */
  dueAt: number;
}

/** What `debounced.watch` sends. */
export type DebouncedEvent =
  | { type: "update"; key: string; value: unknown; updatedBy: string; updatedAt: number }
  | { type: "flush"; keys: string[]; at: number }
  | { type: "delete"; key: string; deletedBy: string; at: number };

/** Event name under which `events` emits each DebouncedEvent. */
export const DEBOUNCED_EVENT = "debounced";

export interface DebouncedValue {
  key: string;
  value: unknown;
  updatedBy: string;
  updatedAt: number;
  /** True while the value has not been written to SQLite yet. */
  pending: boolean;
}

export interface DebouncedStats {
  updatesReceived: number;
  sqliteWrites: number;
  /** updatesReceived / sqliteWrites (how many updates each write stood for); null before the first write. */
  coalescingRatio: number | null;
  pendingKeys: number;
  pendingBytes: number;
  lastFlushAt: number | null;
  flushErrors: number;
  lastFlushError: string | null;
}

/** Timers the writer uses; injected so tests can drive time by hand. */
export interface Clock {
  now(): number;
  setTimer(run: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer: (run, ms) => setTimeout(run, ms),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class DebouncedWriteError extends CodedError {
  get code() {
    return "TOO_MANY_REQUESTS" as const;
  }
}

/** An update that would take the room past its debounced quota (keys or bytes). Not retryable: free space first. */
export class DebouncedQuotaError extends CodedError {
  get code() {
    return "FORBIDDEN" as const;
  }
}

/** The room's quota of debounced keys and their bytes (stored or pending). */
export interface DebouncedQuota {
  keys: number;
  bytes: number;
}

const encoder = new TextEncoder();

/** Least wait before retrying a failed flush. */
const FLUSH_RETRY_MS = 1_000;

export class DebouncedWriter {
  /** Emits DEBOUNCED_EVENT with a DebouncedEvent for every accepted update and every flush. */
  readonly events = new EventEmitter().setMaxListeners(0);
  readonly #pending = new Map<string, Pending>();
  readonly #intervals = new Map<string, number>();
  #pendingBytes = 0;
  /**
   * Bytes (key + value JSON) of every stored key, read once on first use: with
   * the pending values they give the room's usage against its quota.
   */
  #stored: Map<string, number> | null = null;
  /** Keys and bytes the room would hold with every pending value written. */
  #usage = { keys: 0, bytes: 0 };
  #timer: { handle: unknown; at: number } | null = null;
  #stats = {
    updatesReceived: 0,
    sqliteWrites: 0,
    lastFlushAt: null as number | null,
    flushErrors: 0,
    lastFlushError: null as string | null,
  };

  constructor(
    private readonly db: RoomDatabase,
    /** Called after a flush wrote something (the room announces the commit). */
    private readonly onFlushed: () => void,
    private readonly clock: Clock = realClock,
    private readonly maxPendingBytes = MAX_DEBOUNCED_PENDING_BYTES,
    private readonly quota: DebouncedQuota = { keys: DEFAULT_ROOM_LIMITS.debouncedKeys, bytes: DEFAULT_ROOM_LIMITS.debouncedBytes },
  ) {}

  /** Stored keys and their bytes, read from SQLite the first time they are needed (at most the quota's keys). */
  #storedKeys(): Map<string, number> {
    if (!this.#stored) {
      const rows = this.db
        .select({
          key: debouncedState.key,
          bytes: sql<number>`length(CAST(${debouncedState.key} AS BLOB)) + length(CAST(${debouncedState.value} AS BLOB))`,
        })
        .from(debouncedState)
        .all();
      this.#stored = new Map(rows.map((row) => [row.key, row.bytes]));
      this.#usage = { keys: this.#stored.size, bytes: rows.reduce((sum, row) => sum + row.bytes, 0) };
      for (const [key, pending] of this.#pending) {
        const stored = this.#stored.get(key);
        this.#usage.bytes += pending.bytes - (stored ?? 0);
        if (stored === undefined) this.#usage.keys += 1;
      }
    }
    return this.#stored;
  }

  /**
   * Accepts an update: shown to watchers now, written within the key's
   * interval. `intervalMs` (already validated) changes the key's interval.
   */
  update(key: string, value: unknown, updatedBy: string, intervalMs?: number): { key: string; pending: true; flushBy: number } {
    if (intervalMs !== undefined) this.#intervals.set(key, intervalMs);
    const json = JSON.stringify(value);
    const bytes = encoder.encode(key).byteLength + encoder.encode(json).byteLength;
    const previous = this.#pending.get(key);
    const pendingBytes = this.#pendingBytes - (previous?.bytes ?? 0) + bytes;
    if (pendingBytes > this.maxPendingBytes) {
      throw new DebouncedWriteError(
        `debounced values awaiting their flush would exceed ${this.maxPendingBytes} bytes in this room; call flushDebounced or slow down`,
      );
    }
    // Usage as if every pending value were written: this key now takes `bytes`.
    const stored = this.#storedKeys().get(key);
    const current = previous?.bytes ?? stored;
    const usage = { keys: this.#usage.keys + (current === undefined ? 1 : 0), bytes: this.#usage.bytes + bytes - (current ?? 0) };
    if (usage.keys > this.quota.keys) {
      throw new DebouncedQuotaError(`this room holds at most ${this.quota.keys} debounced keys; reuse a key or delete some first`);
    }
    if (usage.bytes > this.quota.bytes && bytes > (current ?? 0)) {
      throw new DebouncedQuotaError(
        `debounced keys and values may take at most ${this.quota.bytes} bytes in this room; shrink or delete values first`,
      );
    }
    const now = this.clock.now();
    const interval = this.#intervals.get(key) ?? DEFAULT_DEBOUNCE_INTERVAL_MS;
    const dueAt = previous ? Math.min(previous.dueAt, now + interval) : now + interval;
    this.#pending.set(key, { value, json, bytes, updatedBy, updatedAt: now, dueAt });
    this.#pendingBytes = pendingBytes;
    this.#usage = usage;
    this.#stats.updatesReceived += 1;
    this.events.emit(DEBOUNCED_EVENT, { type: "update", key, value, updatedBy, updatedAt: now } satisfies DebouncedEvent);
    this.#arm();
    return { key, pending: true, flushBy: dueAt };
  }

  /**
   * Forgets `key`: its pending value and its stored row (the deletion is
   * replicated like any write). Frees its place in the room's quota. Returns
   * whether the key existed.
   */
  delete(key: string, deletedBy: string): boolean {
    const stored = this.#storedKeys().get(key);
    const pending = this.#pending.get(key);
    if (stored === undefined && !pending) return false;
    if (stored !== undefined) this.db.delete(debouncedState).where(eq(debouncedState.key, key)).run();
    this.#stored?.delete(key);
    this.#usage = { keys: this.#usage.keys - 1, bytes: this.#usage.bytes - (pending?.bytes ?? stored ?? 0) };
    if (pending) {
      this.#pendingBytes -= pending.bytes;
      this.#pending.delete(key);
    }
    this.#intervals.delete(key);
    const at = this.clock.now();
    this.events.emit(DEBOUNCED_EVENT, { type: "delete", key, deletedBy, at } satisfies DebouncedEvent);
    if (stored !== undefined) this.onFlushed();
    this.#arm();
    return true;
  }

  /** The latest value of `key`: pending if there is one, else the persisted one; null when never set. */
  get(key: string): DebouncedValue | null {
    const pending = this.#pending.get(key);
    if (pending) return { key, value: pending.value, updatedBy: pending.updatedBy, updatedAt: pending.updatedAt, pending: true };
    const row = this.db.select().from(debouncedState).where(eq(debouncedState.key, key)).get();
    if (!row) return null;
    return { key, value: JSON.parse(row.value) as unknown, updatedBy: row.updated_by, updatedAt: row.updated_at.getTime(), pending: false };
  }

  /**
   * Writes pending values now: those of `keys` (all pending keys when
   * omitted), or with `dueOnly` only those whose time has come. One statement
   * per key, all in this event's commit. On failure nothing is dropped: the
   * values stay pending and the error is counted. Returns the keys written.
   */
  flush(options: { keys?: readonly string[]; dueOnly?: boolean } = {}): string[] {
    const now = this.clock.now();
    const keys = (options.keys ?? [...this.#pending.keys()]).filter((key) => {
      const pending = this.#pending.get(key);
      return pending !== undefined && (!options.dueOnly || pending.dueAt <= now);
    });
    if (keys.length > 0) {
      try {
        this.db.transaction((tx) => {
          for (const key of keys) {
            const pending = this.#pending.get(key)!;
            tx.insert(debouncedState)
              .values({ key, value: pending.json, updated_at: new Date(pending.updatedAt), updated_by: pending.updatedBy })
              .onConflictDoUpdate({
                target: debouncedState.key,
                set: { value: sql`excluded.value`, updated_at: sql`excluded.updated_at`, updated_by: sql`excluded.updated_by` },
              })
              .run();
          }
        });
      } catch (error) {
        this.#stats.flushErrors += 1;
        this.#stats.lastFlushError = error instanceof Error ? error.message : String(error);
        // Retry after the key's interval (at least FLUSH_RETRY_MS), not in a tight loop.
        for (const key of keys) {
          const pending = this.#pending.get(key)!;
          pending.dueAt = now + Math.max(this.#intervals.get(key) ?? DEFAULT_DEBOUNCE_INTERVAL_MS, FLUSH_RETRY_MS);
        }
        this.#arm();
        throw error;
      }
      for (const key of keys) {
        const { bytes } = this.#pending.get(key)!;
        this.#pendingBytes -= bytes;
        this.#stored?.set(key, bytes);
        this.#pending.delete(key);
      }
      this.#stats.sqliteWrites += keys.length;
      this.#stats.lastFlushAt = now;
      this.events.emit(DEBOUNCED_EVENT, { type: "flush", keys, at: now } satisfies DebouncedEvent);
      this.onFlushed();
    }
    this.#arm();
    return keys;
  }

  /** When the next pending value is due, or null when nothing is pending. */
  nextDue(): number | null {
    let due: number | null = null;
    for (const pending of this.#pending.values()) if (due === null || pending.dueAt < due) due = pending.dueAt;
    return due;
  }

  stats(): DebouncedStats {
    const { updatesReceived, sqliteWrites } = this.#stats;
    return {
      ...this.#stats,
      coalescingRatio: sqliteWrites === 0 ? null : updatesReceived / sqliteWrites,
      pendingKeys: this.#pending.size,
      pendingBytes: this.#pendingBytes,
    };
  }

  /** Keeps one in-memory timer at the earliest due time (the fast path; the room's alarm is the backstop). */
  #arm(): void {
    const due = this.nextDue();
    if (this.#timer && (due === null || this.#timer.at !== due)) {
      this.clock.clearTimer(this.#timer.handle);
      this.#timer = null;
    }
    if (due === null || this.#timer) return;
    const handle = this.clock.setTimer(
      () => {
        this.#timer = null;
        try {
          this.flush({ dueOnly: true });
        } catch (error) {
          console.error("debounced flush failed; values stay pending", error);
        }
      },
      Math.max(0, due - this.clock.now()),
    );
    this.#timer = { handle, at: due };
  }
}
