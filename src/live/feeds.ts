/**
 * The two kinds of live data, as async generators of tracked events whose id
 * is a seq: a change feed (every change to one table, resumable from any seq
 * the log still holds) and a live query (a result re-sent after each commit
 * that touches its tables). They hold no state beyond their arguments, so the
 * room can re-create them after hibernation from the socket attachment.
 */
import { tracked, type TrackedEnvelope } from "@trpc/server";
import { CHANGE_FEED_PAGE } from "../lib/limits";
import type { Change, ChangeLog } from "./change-log";
import type { CommitHub } from "./commit-hub";

/** What a change feed sends. `id` and `row` follow the change log; `row` is the row now (null once deleted). */
export type FeedEvent<Row> =
  | { type: "ready"; seq: number }
  | { type: "change"; seq: number; table: string; op: "insert" | "update" | "delete"; id: number; row: Row | null }
  | { type: "resync"; seq: number; reason: string };

export interface FeedOptions<Row> {
  log: ChangeLog;
  hub: CommitHub;
  table: string;
  /** Reads the current row for a change (null when it no longer exists). */
  readRow: (id: number) => Row | null;
  /** The client's last seen seq (`lastEventId`), if resuming. */
  lastEventId: string | null | undefined;
  signal: AbortSignal;
}

/** Parses a `lastEventId` into a seq; null when absent or not a seq. */
export function seqOf(lastEventId: string | null | undefined): number | null {
  if (lastEventId == null || !/^\d{1,15}$/.test(lastEventId)) return null;
  return Number(lastEventId);
}

/**
 * Every change to `table` after the client's `lastEventId`, then live. A fresh
 * subscription first gets `ready` (its resume point); a client further behind
 * than the log reaches gets `resync` and must reload.
 */
export async function* changeFeed<Row>(options: FeedOptions<Row>): AsyncGenerator<TrackedEnvelope<FeedEvent<Row>>> {
  const { log, hub, table, signal } = options;
  let cursor = seqOf(options.lastEventId);
  if (cursor === null) {
    cursor = hub.published;
    yield tracked(String(cursor), { type: "ready", seq: cursor });
  } else if (cursor > hub.published || !log.reaches(cursor)) {
    const seq = hub.published;
    const reason =
      cursor > hub.published
        ? `lastEventId ${cursor} is ahead of this room's log (${seq})`
        : `the change log no longer reaches back to ${cursor}; reload and resume from ${seq}`;
    cursor = seq;
    yield tracked(String(seq), { type: "resync", seq, reason });
  }
  while (!signal.aborted) {
    // Read only what has been published, and remember how far that was: commits
    // published while this generator was suspended at a yield are read next round.
    const upTo = hub.published;
    // Subscribers at the same point read the log once per commit.
    const from: number = cursor;
    const page: Change[] = hub.memo(`since:${from}:${upTo}`, () => log.since(from, CHANGE_FEED_PAGE, upTo));
    for (const change of page) {
      if (change.table === table) {
        // One event object per change, shared by all subscribers until the next commit.
        const event = hub.memo(`feed:${table}:${change.seq}`, (): FeedEvent<Row> => {
          const row = change.op === "delete" ? null : options.readRow(change.pk);
          return { type: "change", seq: change.seq, table, op: change.op, id: change.pk, row };
        });
        yield tracked(String(change.seq), event);
      }
      cursor = change.seq;
    }
    if (page.length === CHANGE_FEED_PAGE) continue;
    cursor = Math.max(cursor, upTo);
    if (hub.published > cursor) continue;
    if (!(await hub.next(signal))) return;
  }
}

export interface LiveQueryOptions<Result> {
  log: ChangeLog;
  hub: CommitHub;
  /** Tables the query reads; commits touching none of them cause no push. */
  tables: readonly string[];
  /** Runs the query (synchronously in practice: the room's SQLite is synchronous). */
  run: () => Result | Promise<Result>;
  /**
   * Identifies identical queries (same procedure and input): they share one
   * evaluation per commit, and so one result object, encoded once for all
   * their sockets. Without a key every subscription evaluates on its own.
   * Either way results are made and sent one at a time per room (`hub.lane`).
   */
  key?: string;
  lastEventId: string | null | undefined;
  signal: AbortSignal;
}

/**
 * The query's result now (unless the client's `lastEventId` shows it is
 * current), then again after each commit that touches `tables` — at most one
 * push per commit. Memory per commit is bounded whatever the number of
 * subscribers: identical queries share one result, and the room makes and
 * sends one live result at a time.
 */
export async function* liveQuery<Result>(options: LiveQueryOptions<Result>): AsyncGenerator<TrackedEnvelope<Result>> {
  const { log, hub, tables, signal, key } = options;
  // Subscribers at the same point read the log once per commit.
  const changedTables = (from: number, to: number) => hub.memo(`tables:${from}:${to}`, () => log.tablesChanged(from, to));
  const reaches = (seq: number) => hub.memo(`reaches:${seq}`, () => log.reaches(seq));
  const leave = key === undefined ? () => {} : hub.join(key);
  try {
    const seen = seqOf(options.lastEventId);
    let version = hub.published;
    const current = seen !== null && seen <= version && reaches(seen) && !intersects(changedTables(seen, version), tables);
    let due = !current;
    // First results are shared while held (subscribers joining together); after a commit, a query's subscribers share one.
    let first = true;
    while (!signal.aborted) {
      // The result is made and yielded by a generator of its own, finished once
      // the pump asks for the next value: a suspended generator keeps every
      // value its registers last held, so this long-lived one must never hold
      // a result, or each subscription would keep its last one (and, through the
      // adapter's encoding cache, its JSON) until the next commit.
      if (due) yield* oneResult(options, version, first);
      first = false;
      // Commits published while suspended at a yield are caught here, not lost.
      if (hub.published === version && !(await hub.next(signal))) return;
      const upTo = hub.published;
      due = !reaches(version) || intersects(changedTables(version, upTo), tables);
      version = upTo;
    }
  } finally {
    leave();
  }
}

/**
 * One live result, at seq `at`: made and yielded while holding the room's
 * live-result lane (the pump asks for the next value only after sending, so the
 * result is sent before the lane moves on). Ends right after, and with it
 * every reference it held to the result.
 */
async function* oneResult<Result>(
  options: LiveQueryOptions<Result>,
  at: number,
  first: boolean,
): AsyncGenerator<TrackedEnvelope<Result>, void, undefined> {
  const { hub, key, signal } = options;
  const release = await hub.lane();
  try {
    if (signal.aborted) return;
    const result = await (key === undefined
      ? options.run()
      : first
        ? hub.first(key, at, options.run)
        : hub.take(key, at, options.run));
    yield tracked(String(at), result);
  } finally {
    release();
  }
}

function intersects(changed: ReadonlySet<string>, tables: readonly string[]): boolean {
  return tables.some((table) => changed.has(table));
}
