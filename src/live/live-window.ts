/**
 * Incremental live queries over a window of one table: the first `limit` rows
 * matching the query's filters, by ascending id. After a full first result
 * (`snapshot`), each commit that touches the table sends only what changed in
 * the window (`diff`: rows upserted, ids removed), computed from the change
 * log — only the rows the commit touched are re-read, plus the rows that move
 * into a window others left. Subscribers of the same query at the same seq
 * share each event (`hub.memo`), so one evaluation serves them all.
 *
 * Every event is tracked by `"<seq>:<last id>"` (the last id only when the
 * window was full, since then rows beyond it were not sent): a client that
 * resubscribes with it gets a diff against the window it holds, with the full
 * order (`ids`), as long as the log reaches back to that seq; otherwise a
 * snapshot with the reason. The protocol is in docs/live-data.md.
 */
import { tracked, type TrackedEnvelope } from "@trpc/server";
import { CHANGE_FEED_PAGE } from "../lib/limits";
import type { ChangeLog } from "./change-log";
import type { CommitHub } from "./commit-hub";
import type { WindowEvent } from "../protocol/live-events";

export type { WindowEvent };

/** How to read one window (all reads apply the query's filters). */
export interface WindowSource<Row extends { id: number }> {
  table: string;
  limit: number;
  /** The first `limit` matching rows, by ascending id. */
  first(limit: number): Row[];
  /** The matching rows among `ids` (any order). */
  matching(ids: readonly number[]): Row[];
  /** The rows among `ids`, matching or not (any order): read once per commit for every window of the table. */
  rows(ids: readonly number[]): Row[];
  /**
   * Whether a row read by `rows` matches the window's filters, decided without
   * SQLite — or undefined when it cannot be (then `matching` asks SQLite).
   */
  matches?(row: Row): boolean;
  /** The first `count` matching rows with an id above `after`, ascending. */
  after(after: number, count: number): Row[];
}

export interface LiveWindowOptions<Row extends { id: number }> {
  log: ChangeLog;
  hub: CommitHub;
  source: WindowSource<Row>;
  /** Identifies identical queries (same procedure and input): they share every event. */
  key: string;
  lastEventId: string | null | undefined;
  signal: AbortSignal;
}

/** Where a client's window stands: its seq, and its last id when it was full (else every matching row was sent). */
interface Position {
  seq: number;
  /** Rows with a greater id were not part of the window (Infinity: the window was not full). */
  last: number;
}

/** What a subscription remembers between commits: the ids of its window at a seq (never rows). */
interface WindowState {
  seq: number;
  ids: number[];
}

/** `"<seq>:<last id>"` or `"<seq>:"`, or a plain seq (a room resuming a hibernated subscription). */
export function parsePosition(lastEventId: string | null | undefined): Position | null {
  const match = lastEventId == null ? null : /^(\d{1,15})(?::(\d{0,15}))?$/.exec(lastEventId);
  if (!match) return null;
  const seq = Number(match[1]);
  if (match[2] === undefined) return { seq, last: Number.NaN };
  return { seq, last: match[2] === "" ? Number.POSITIVE_INFINITY : Number(match[2]) };
}

function positionOf(seq: number, ids: readonly number[], limit: number): string {
  return `${seq}:${ids.length >= limit ? String(ids[ids.length - 1]) : ""}`;
}

/** What one step produces: the event to send (null: the window did not change) and the state after it. */
interface Step<Row> {
  event: WindowEvent<Row> | null;
  state: WindowState;
}

/**
 * The window now (a snapshot, unless the client's `lastEventId` lets it resume
 * with a diff), then a diff after each commit that changed it.
 */
export async function* liveWindow<Row extends { id: number }>(
  options: LiveWindowOptions<Row>,
): AsyncGenerator<TrackedEnvelope<WindowEvent<Row>>> {
  const { hub, key, signal } = options;
  const leave = hub.join(key);
  try {
    let state: WindowState | null = null;
    // The first event, made and yielded by a short-lived generator: a suspended
    // generator keeps what its registers last held, and this one lives long.
    state = yield* emit(options.source.limit, () => start(options));
    while (!signal.aborted && state) {
      if (hub.published === state.seq && !(await hub.next(signal))) return;
      const from: WindowState = state;
      state = yield* emit(options.source.limit, () =>
        hub.memo(`window:${key}:${from.seq}:${hub.published}`, () => advance(options, from, hub.published)),
      );
    }
  } finally {
    leave();
  }
}

/** Yields a step's event (if any) and returns its state; holds nothing once it returns. */
async function* emit<Row>(limit: number, make: () => Step<Row>): AsyncGenerator<TrackedEnvelope<WindowEvent<Row>>, WindowState, undefined> {
  const step = make();
  if (step.event) yield tracked(positionOf(step.state.seq, step.state.ids, limit), step.event);
  return step.state;
}

/** The first step: a snapshot, a resume diff, or nothing when the client is current. */
function start<Row extends { id: number }>(options: LiveWindowOptions<Row>): Step<Row> {
  const { log, hub, source, key } = options;
  const seq = hub.published;
  const position = parsePosition(options.lastEventId);
  const snapshot = (reason?: string): Step<Row> => {
    const rows = hub.first(`${key}:snapshot`, seq, () => source.first(source.limit));
    return { event: { type: "snapshot", seq, rows, ...(reason ? { reason } : {}) }, state: { seq, ids: rows.map((row) => row.id) } };
  };
  if (!position) return snapshot();
  if (position.seq > seq) return snapshot(`lastEventId ${position.seq} is ahead of this room's log (${seq})`);
  if (!log.reaches(position.seq)) return snapshot(`the change log no longer reaches back to ${position.seq}`);
  const changed = changedIds(log, source.table, position.seq, seq);
  if (changed === null) return snapshot(`more than ${CHANGE_FEED_PAGE} changes since ${position.seq}`);
  const rows = hub.first(`${key}:snapshot`, seq, () => source.first(source.limit));
  const ids = rows.map((row) => row.id);
  if (changed.size === 0) return { event: null, state: { seq, ids } };
  // A plain seq: the room resumed a hibernated subscription whose client was current at it, so it cannot place rows beyond the changes.
  if (Number.isNaN(position.last)) return snapshot();
  const upserts = rows.filter((row) => changed.has(row.id) || row.id > position.last);
  return { event: { type: "diff", seq, upserts, removes: [], ids }, state: { seq, ids } };
}

/** The ids of `table` changed in (from, to], or null when there are more than a page of changes. */
function changedIds(log: ChangeLog, table: string, from: number, to: number): Set<number> | null {
  const changes = log.since(from, CHANGE_FEED_PAGE + 1, to);
  if (changes.length > CHANGE_FEED_PAGE) return null;
  const ids = new Set<number>();
  for (const change of changes) if (change.table === table) ids.add(change.pk);
  return ids;
}

/**
 * The window's step from `state` to seq `to`: re-reads only the changed rows
 * (and those filling places others left); a full re-read when the log no
 * longer reaches `state.seq` (a snapshot) or the commits changed more than a
 * page of rows (still sent as a diff).
 */
function advance<Row extends { id: number }>(options: LiveWindowOptions<Row>, state: WindowState, to: number): Step<Row> {
  const { log, source } = options;
  const { limit } = source;
  if (!log.reaches(state.seq)) {
    const rows = source.first(limit);
    const reason = `the change log no longer reaches back to ${state.seq}`;
    return { event: { type: "snapshot", seq: to, rows, reason }, state: { seq: to, ids: rows.map((row) => row.id) } };
  }
  // The log, and the touched rows, are read once per commit for every window of the table.
  const changed = options.hub.memo(`changed:${source.table}:${state.seq}:${to}`, () => changedIds(log, source.table, state.seq, to));
  if (changed === null) {
    const rows = source.first(limit);
    const reason = `more than ${CHANGE_FEED_PAGE} changes since ${state.seq}`;
    return { event: { type: "snapshot", seq: to, rows, reason }, state: { seq: to, ids: rows.map((row) => row.id) } };
  }
  if (changed.size === 0) return { event: null, state: { seq: to, ids: state.ids } };

  // Rows up to the old window's end are all known: those not changed kept their place.
  const full = state.ids.length >= limit;
  const end = full ? state.ids[state.ids.length - 1]! : Number.POSITIVE_INFINITY;
  const touched = new Map(touchedRows(options, changed, state.seq, to).map((row) => [row.id, row]));
  const known = state.ids.filter((id) => !changed.has(id));
  for (const id of touched.keys()) if (id <= end) known.push(id);
  known.sort((a, b) => a - b);
  let ids = known.slice(0, limit);
  const filled: Row[] = [];
  if (ids.length < limit && full) {
    // Places left open: the next matching rows after the old end move in.
    for (const row of source.after(end, limit - ids.length)) {
      filled.push(row);
      ids.push(row.id);
    }
  }
  ids = ids.slice(0, limit);
  const inWindow = new Set(ids);
  const old = new Set(state.ids);
  const upserts: Row[] = [];
  for (const [id, row] of touched) if (inWindow.has(id)) upserts.push(row);
  for (const row of filled) if (!touched.has(row.id) && !old.has(row.id)) upserts.push(row);
  upserts.sort((a, b) => a.id - b.id);
  const removes = state.ids.filter((id) => !inWindow.has(id));
  if (upserts.length === 0 && removes.length === 0) return { event: null, state: { seq: to, ids } };
  return { event: { type: "diff", seq: to, upserts, removes }, state: { seq: to, ids } };
}

/**
 * The changed rows that match the window: filtered from the table's touched
 * rows (read once per commit, shared by every window of the table) when the
 * source can decide a match itself, else read with the filters by SQLite.
 */
function touchedRows<Row extends { id: number }>(options: LiveWindowOptions<Row>, changed: Set<number>, from: number, to: number): Row[] {
  const { source, hub } = options;
  if (!source.matches) return source.matching([...changed]);
  const matches = source.matches.bind(source);
  const all = hub.memo(`rows:${source.table}:${from}:${to}`, () => source.rows([...changed]));
  return all.filter((row) => matches(row));
}
