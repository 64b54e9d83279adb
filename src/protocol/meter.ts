/**
 * What a room's meter reports (src/room/room-meter.ts) and the cost estimate
 * reads (src/lib/pricing.ts): counters of billable work, as totals and over
 * rolling windows. Part of `admin.inspect`'s answer.
 */

/** Counts of one period. */
export interface MeterCounters {
  /** SQLite rows read and written by the room (what its SQL cursors report; index entries count as written rows). */
  sqlRowsRead: number;
  sqlRowsWritten: number;
  /** Rows the sync engine wrote to the D1 replica, and the batches they went in. */
  d1RowsWritten: number;
  d1Batches: number;
  /** WebSocket messages received and sent (Cloudflare bills incoming messages 20:1 as requests). */
  wsMessagesIn: number;
  wsMessagesOut: number;
  /** Calls of the router (every transport) and those that ended in an error. */
  requests: number;
  errors: number;
  /** Times the room started (a wake from hibernation or eviction), ms it was awake, alarms it ran. */
  wakeUps: number;
  awakeMs: number;
  alarms: number;
}

/** The meter now. */
export interface MeterSnapshot {
  /** When the meter started counting (ms since the epoch). */
  since: number;
  total: MeterCounters;
  /** The last 60 minutes and the last 24 hours (by whole minutes / hours). */
  lastHour: MeterCounters;
  lastDay: MeterCounters;
  /** Calls and errors per procedure path, totals. */
  byProcedure: Record<string, { calls: number; errors: number }>;
  /** Bytes the room's SQLite database takes now. */
  storedBytes: number;
}

export function emptyCounters(): MeterCounters {
  return {
    sqlRowsRead: 0,
    sqlRowsWritten: 0,
    d1RowsWritten: 0,
    d1Batches: 0,
    wsMessagesIn: 0,
    wsMessagesOut: 0,
    requests: 0,
    errors: 0,
    wakeUps: 0,
    awakeMs: 0,
    alarms: 0,
  };
}
