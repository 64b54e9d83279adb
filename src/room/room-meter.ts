/**
 * The room's meter: counts the billable work a room does — SQLite rows read
 * and written (from its SQL cursors), D1 rows and batches, WebSocket messages,
 * calls per procedure with errors, wake-ups, awake time and alarms — as totals
 * and over rolling windows (the last 60 minutes, the last 24 hours).
 *
 * Durable across hibernation and eviction, written cheaply: the counts live in
 * memory and are written to the room's SQLite as ONE row (`_meter`, a JSON
 * document) at most every METER_FLUSH_MS, at the end of an event, and by the
 * room's alarm when counts are waiting, so a room that goes quiet still lands
 * them before it hibernates. A crash loses at most the counts since the last
 * write (≤ METER_FLUSH_MS of work). The meter's own row write is counted like
 * any other.
 *
 * Awake time is an estimate of what Cloudflare bills as duration: each event's
 * own time plus the idle time after the previous event, capped at
 * METER_IDLE_AWAKE_MS (a room with only hibernatable sockets is evicted about
 * that long after its last event).
 */
import { emptyCounters, type MeterCounters, type MeterSnapshot } from "../protocol/meter";

/** Longest the meter keeps counts in memory only (ms). */
export const METER_FLUSH_MS = 10_000;

/** Idle time after an event that is counted as awake (ms): about when a hibernatable room is evicted. */
export const METER_IDLE_AWAKE_MS = 10_000;

/** Counts that every event makes, the meter's own alarm included (rows read: the change log's head, the sync state). */
const BOOKKEEPING: ReadonlySet<keyof MeterCounters> = new Set(["awakeMs", "alarms", "wakeUps", "sqlRowsRead"]);

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const METER_TABLE = "_meter";

/** The persisted document. */
interface MeterState {
  since: number;
  total: MeterCounters;
  /** [minute index (ms / 60 000), counters], the last 60 minutes. */
  minutes: [number, MeterCounters][];
  /** [hour index, counters], the last 24 hours. */
  hours: [number, MeterCounters][];
  procedures: Record<string, { calls: number; errors: number }>;
}

type CounterKey = keyof MeterCounters;

export class RoomMeter {
  #state: MeterState;
  #dirty = false;
  /**
   * True when counts beyond the room's own bookkeeping (BOOKKEEPING) wait:
   * only those arm the alarm, or the alarm that writes them would count itself
   * and re-arm forever, and the room would never sleep. Bookkeeping counts are
   * written with the next write; an eviction before it loses them.
   */
  #urgent = false;
  #lastFlush: number;
  #cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
  /** When the last event ended (null before the first one since the room started). */
  #lastEventEnd: number | null = null;
  #eventStart: number | null = null;

  constructor(
    private readonly sql: SqlStorage,
    private readonly now: () => number = Date.now,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS ${METER_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL)`);
    const row = sql.exec<{ state: string }>(`SELECT state FROM ${METER_TABLE} WHERE id = 1`).toArray()[0];
    this.#state = row
      ? (JSON.parse(row.state) as MeterState)
      : { since: now(), total: emptyCounters(), minutes: [], hours: [], procedures: {} };
    this.#lastFlush = now();
    this.add("wakeUps", 1);
  }

  /** A SqlStorage that counts the rows every statement reads and writes (give it to everything that uses SQL). */
  metered(): SqlStorage {
    const sql = this.sql;
    // One wrapper for the room's lifetime: every statement of every event goes through it.
    const exec = (query: string, ...bindings: SqlStorageValue[]) => {
      const cursor = sql.exec(query, ...bindings);
      this.#cursors.push(cursor as SqlStorageCursor<Record<string, SqlStorageValue>>);
      return cursor;
    };
    return new Proxy(sql, {
      get(target, property) {
        if (property === "exec") return exec;
        // The host object's own getters need it as the receiver, not the proxy.
        const value = Reflect.get(target, property) as unknown;
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /** Adds to one counter (in every window). */
  add(key: CounterKey, amount: number): void {
    if (amount === 0) return;
    const at = this.now();
    this.#state.total[key] += amount;
    bucket(this.#state.minutes, Math.floor(at / MINUTE))[key] += amount;
    bucket(this.#state.hours, Math.floor(at / HOUR))[key] += amount;
    this.#dirty = true;
    if (!BOOKKEEPING.has(key)) this.#urgent = true;
  }

  /** One call of `path` (any transport), and whether it succeeded. */
  call(path: string, ok: boolean): void {
    this.add("requests", 1);
    if (!ok) this.add("errors", 1);
    const entry = (this.#state.procedures[path] ??= { calls: 0, errors: 0 });
    entry.calls += 1;
    if (!ok) entry.errors += 1;
  }

  /** An event starts (a frame, a call, an alarm, a socket closing): counts the idle time since the last one as awake. */
  eventStarted(): void {
    const at = this.now();
    // An event that ended without reaching eventEnded (an early refusal) ends here.
    if (this.#eventStart !== null) this.add("awakeMs", at - this.#eventStart);
    else if (this.#lastEventEnd !== null) this.add("awakeMs", Math.min(at - this.#lastEventEnd, METER_IDLE_AWAKE_MS));
    this.#eventStart = at;
  }

  /**
   * An event ends: its time counts as awake, its SQL cursors are summed, and
   * the counts are written when METER_FLUSH_MS passed since the last write
   * (`force`: now, e.g. from the alarm).
   */
  eventEnded(force = false): void {
    const at = this.now();
    if (this.#eventStart !== null) this.add("awakeMs", at - this.#eventStart);
    this.#eventStart = null;
    this.#lastEventEnd = at;
    this.#collectCursors();
    if (this.#dirty && (force || at - this.#lastFlush >= METER_FLUSH_MS)) this.#flush(at);
  }

  /** Writes the waiting counts now (the alarm's meter duty). */
  write(): void {
    this.#collectCursors();
    if (this.#dirty) this.#flush(this.now());
  }

  /** When the alarm should write waiting counts, or null when nothing waits. */
  nextFlush(): number | null {
    return this.#urgent ? this.#lastFlush + METER_FLUSH_MS : null;
  }

  /** The meter now, with the windows ending at this minute and hour. */
  snapshot(storedBytes: number): MeterSnapshot {
    this.#collectCursors();
    const at = this.now();
    const minute = Math.floor(at / MINUTE);
    const hour = Math.floor(at / HOUR);
    return {
      since: this.#state.since,
      total: { ...this.#state.total },
      lastHour: sum(this.#state.minutes.filter(([index]) => index > minute - 60).map(([, counters]) => counters)),
      lastDay: sum(this.#state.hours.filter(([index]) => index > hour - 24).map(([, counters]) => counters)),
      byProcedure: structuredClone(this.#state.procedures),
      storedBytes,
    };
  }

  #collectCursors(): void {
    if (this.#cursors.length === 0) return;
    const cursors = this.#cursors;
    this.#cursors = [];
    let read = 0;
    let written = 0;
    for (const cursor of cursors) {
      read += cursor.rowsRead;
      written += cursor.rowsWritten;
    }
    this.add("sqlRowsRead", read);
    this.add("sqlRowsWritten", written);
  }

  #flush(at: number): void {
    const minute = Math.floor(at / MINUTE);
    const hour = Math.floor(at / HOUR);
    this.#state.minutes = this.#state.minutes.filter(([index]) => index > minute - 60);
    this.#state.hours = this.#state.hours.filter(([index]) => index > hour - 24);
    this.#dirty = false;
    this.#urgent = false;
    this.#lastFlush = at;
    // Through the metered SQL? No: through the plain one, and counted here, so the write is seen once.
    const cursor = this.sql.exec(
      `INSERT INTO ${METER_TABLE} (id, state) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state`,
      JSON.stringify(this.#state),
    );
    // Counted into memory for the next write (so the counts of this write are not lost, yet do not make it dirty alone).
    const written = cursor.rowsWritten;
    this.#state.total.sqlRowsWritten += written;
    bucket(this.#state.minutes, minute).sqlRowsWritten += written;
    bucket(this.#state.hours, hour).sqlRowsWritten += written;
  }
}

function bucket(buckets: [number, MeterCounters][], index: number): MeterCounters {
  const last = buckets[buckets.length - 1];
  if (last && last[0] === index) return last[1];
  const counters = emptyCounters();
  buckets.push([index, counters]);
  return counters;
}

function sum(list: MeterCounters[]): MeterCounters {
  const total = emptyCounters();
  for (const counters of list) for (const key of Object.keys(total) as CounterKey[]) total[key] += counters[key];
  return total;
}
