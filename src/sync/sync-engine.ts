/**
 * The sync engine: replicates every room write to the D1 replica. Driven by
 * the room's alarm from the change log: changes past the confirmed watermark
 * are coalesced to the latest state per row and written as one atomic D1 batch
 * (upserts, deletes, watermark); only then does the watermark advance. Fails
 * safe: room writes never wait for D1, pushes back off, nothing is trimmed
 * from the log before it is replicated, and a full resync repairs any gap.
 * Callers may wait for a seq to be replicated (`replicated`): that pushes at
 * once (outside a backoff) and answers from the push's own outcome.
 * Receives the room's SqlStorage, the change log and the D1 binding.
 */
import {
  MAX_UNREPLICATED_CHANGES,
  REPLICATION_WINDOW_MS,
  RESYNC_ORPHAN_PAGE,
  RESYNC_PAGE_ROWS,
  SYNC_BACKOFF_BASE_MS,
  SYNC_BACKOFF_MAX_MS,
  SYNC_MAX_CHANGES_PER_PUSH,
  SYNC_UNHEALTHY_LAG_MS,
} from "../lib/limits";
import type { ChangeLog } from "../live/change-log";
import { deletes, upserts, watermark, type RowSet } from "./replica-statements";
import { ReplicationWaiters, type ReplicationAck } from "./replication-waiters";

/** The durable state of the engine (the `_sync_status` row). */
interface SyncState {
  room: string | null;
  replicated_seq: number;
  needs_full_resync: number;
  total_syncs: number;
  sync_errors: number;
  consecutive_failures: number;
  last_sync_at: number | null;
  last_attempt_at: number | null;
  next_attempt_at: number | null;
  last_error: string | null;
}

/** What `getSyncStatus` reports: the product documentation's fields, plus seqs and lag. */
export interface SyncStatus {
  isHealthy: boolean;
  lastSyncTime: number | null;
  lastSyncAge: number | null;
  totalSyncs: number;
  syncErrors: number;
  errorRate: string;
  replicaAvailable: boolean;
  roomSeq: number;
  replicatedSeq: number;
  pendingChanges: number;
  lagMs: number;
  fullResyncPending: boolean;
  nextAttemptAt: number | null;
  lastError: string | null;
}

/** The outcome of a push or a full resync. */
export interface SyncOutcome {
  kind: "push" | "full";
  fromSeq: number;
  toSeq: number;
  upserted: number;
  deleted: number;
  statements: number;
  elapsedMs: number;
}

/**
 * Longest wait before retrying a push that failed because the replica lacks a
 * table or column (its D1 migrations not applied yet): short, so replication
 * resumes within seconds of `wrangler d1 migrations apply`.
 */
export const SYNC_SCHEMA_RETRY_MS = 5_000;

/** D1's errors when the replica is behind the room's schema. */
const SCHEMA_ERROR = /no such table|no such column|has no column named|no column named/i;

export class SyncEngine {
  #state: SyncState;
  #running: Promise<SyncOutcome | null> | null = null;
  /**
   * When the oldest unreplicated commit happened; null when the replica is
   * current. Set on wake, on every commit and after a push that left work behind.
   */
  #pendingSince: number | null = null;
  /** When the attempt in flight started (for timeout messages). */
  #runningSince: number | null = null;
  /** Calls waiting for a seq to reach the replica (`replicated`). */
  readonly #waiters: ReplicationWaiters;

  constructor(
    private readonly sql: SqlStorage,
    private readonly log: ChangeLog,
    private readonly db: D1Database,
    /** Names of the replicated tables (the app's and the engine's). */
    private readonly tables: readonly string[],
    private readonly now: () => number = Date.now,
  ) {
    this.sql.exec("INSERT OR IGNORE INTO _sync_status (id) VALUES (1)");
    this.#state = this.sql.exec<SyncState & Record<string, SqlStorageValue>>("SELECT * FROM _sync_status WHERE id = 1").one();
    this.#waiters = new ReplicationWaiters(
      {
        now: () => this.now(),
        facts: () => ({
          room: this.#state.room,
          head: this.log.head(),
          replicatedSeq: this.#state.replicated_seq,
          pending: this.#pending(),
          runningSince: this.#runningSince,
          failures: this.#state.consecutive_failures,
          lastError: this.#state.last_error,
          nextAttemptAt: this.#state.next_attempt_at,
        }),
        push: () =>
          void this.sync().catch(() => {
            // Recorded in the status; the waiters hear of it from #attempt.
          }),
      },
      db,
    );
    if (this.#pending()) this.#pendingSince = this.now();
  }

  /** Records the room's name (its `room_id` in the replica). Writes only the first time. */
  setRoom(room: string): void {
    if (this.#state.room === room) return;
    if (this.#state.room !== null) throw new Error(`room is "${this.#state.room}", not "${room}"`);
    this.#update({ room });
  }

  /**
   * Marks the next push as a full resync, without running it: after the room's
   * schema changed (a migration may rebuild a table without logging its rows).
   */
  requireFullResync(): void {
    this.#update({ needs_full_resync: 1 });
    this.#pendingSince ??= this.now();
  }

  /** The oldest seq the change log must keep for replication (used by log retention). */
  retentionFloor(): number {
    const backlog = this.log.head() - this.#state.replicated_seq;
    // A replica far behind (D1 down for long) catches up by full resync instead of pinning the log.
    return backlog > MAX_UNREPLICATED_CHANGES ? Number.MAX_SAFE_INTEGER : this.#state.replicated_seq;
  }

  /** Call after a commit: starts the replication window. */
  noteCommit(): void {
    if (this.#pendingSince === null) this.#pendingSince = this.now();
  }

  /**
   * Lets the engine move the room's alarm earlier on its own: a `replicated`
   * call waits inside an event, so no event settles (and reschedules) while a
   * failed push's retry or a waiter's deadline needs the alarm.
   */
  onAlarmNeeded(request: () => Promise<void>): void {
    this.#waiters.onAlarmNeeded(request);
  }

  #pushed: ((outcome: SyncOutcome) => void) | null = null;

  /** Tells `listener` about every confirmed push (the room's meter counts D1 rows and batches). */
  onPushed(listener: (outcome: SyncOutcome) => void): void {
    this.#pushed = listener;
  }

  /**
   * When the alarm is next needed: the next push, or the earliest deadline of a
   * `replicated` call while no push is in flight (an attempt in flight answers
   * its waiters when it ends). Null when there is nothing to do.
   */
  nextDue(): number | null {
    // Called after every event: decided from memory, without reading the log.
    if (this.#running) return null;
    const push = this.#pushDue();
    const deadline = this.#waiters.earliestDeadline();
    if (deadline === null) return push;
    return push === null ? deadline : Math.min(push, deadline);
  }

  /** Answers waiters whose deadline passed, then runs one push if one is due. Never throws; failures are recorded. */
  async run(): Promise<void> {
    this.#waiters.expire();
    const due = this.#pushDue();
    if (due === null || due > this.now()) return;
    try {
      await this.sync();
    } catch {
      // Recorded in the status; the alarm retries after the backoff.
    }
  }

  /**
   * Resolves once the D1 replica has confirmed `seq` (a seq a mutation
   * returned), with a D1 bookmark taken after the confirmation. Pushes at once
   * unless D1 is in its backoff. Fails with BAD_REQUEST for a seq beyond the
   * room's head, TOO_MANY_REQUESTS beyond MAX_REPLICATION_WAITERS, and TIMEOUT
   * when `timeoutMs` passes — or as soon as the next attempt after a D1 failure
   * falls after the deadline — naming the seq, the replicated seq and why.
   */
  replicated(seq: number, timeoutMs: number): Promise<ReplicationAck> {
    return this.#waiters.wait(seq, timeoutMs);
  }

  /** When the next push is due (window end or backoff), or null when the replica is current or a push runs. */
  #pushDue(): number | null {
    if (this.#running || this.#state.room === null || this.#pendingSince === null) return null;
    const windowEnd = this.#pendingSince + REPLICATION_WINDOW_MS;
    return Math.max(windowEnd, this.#state.next_attempt_at ?? 0);
  }

  /**
   * Pushes what is pending now: a full resync if one is needed, else the next
   * batch of changes. Concurrent calls share one run. Throws when D1 fails.
   */
  sync(options: { full?: boolean } = {}): Promise<SyncOutcome | null> {
    if (options.full) this.#update({ needs_full_resync: 1 });
    if (this.#running) return this.#running.then(() => (options.full ? this.sync() : null));
    const before = this.#state.replicated_seq;
    this.#runningSince = this.now();
    this.#running = this.#attempt().finally(() => {
      this.#running = null;
      this.#runningSince = null;
      this.#waiters.attemptEnded(this.#state.replicated_seq > before);
    });
    return this.#running;
  }

  status(): SyncStatus {
    const now = this.now();
    const head = this.log.head();
    const state = this.#state;
    const first = state.replicated_seq < head ? this.log.since(state.replicated_seq, 1)[0] : undefined;
    const lagMs = first ? Math.max(0, now - first.at) : 0;
    const attempts = state.total_syncs + state.sync_errors;
    const replicaAvailable = state.consecutive_failures === 0;
    return {
      isHealthy: replicaAvailable && lagMs < SYNC_UNHEALTHY_LAG_MS,
      lastSyncTime: state.last_sync_at,
      lastSyncAge: state.last_sync_at === null ? null : now - state.last_sync_at,
      totalSyncs: state.total_syncs,
      syncErrors: state.sync_errors,
      errorRate: `${attempts === 0 ? "0.00" : ((100 * state.sync_errors) / attempts).toFixed(2)}%`,
      replicaAvailable,
      roomSeq: head,
      replicatedSeq: state.replicated_seq,
      pendingChanges: this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM _changes WHERE seq > ?", state.replicated_seq).one().n,
      lagMs,
      fullResyncPending: state.needs_full_resync === 1,
      nextAttemptAt: state.next_attempt_at,
      lastError: state.last_error,
    };
  }

  #pending(): boolean {
    return this.#state.needs_full_resync === 1 || this.log.head() > this.#state.replicated_seq;
  }

  async #attempt(): Promise<SyncOutcome | null> {
    const room = this.#state.room;
    if (room === null) return null;
    if (!this.#pending()) {
      this.#pendingSince = null;
      return null;
    }
    const started = this.now();
    this.#pendingSince = null;
    try {
      const full = this.#state.needs_full_resync === 1 || !this.log.reaches(this.#state.replicated_seq);
      const outcome = full ? await this.#fullResync(room, started) : await this.#push(room, started);
      this.#update({
        replicated_seq: Math.max(this.#state.replicated_seq, outcome.toSeq),
        needs_full_resync: full ? 0 : this.#state.needs_full_resync,
        total_syncs: this.#state.total_syncs + 1,
        consecutive_failures: 0,
        last_sync_at: this.now(),
        last_attempt_at: started,
        next_attempt_at: null,
        last_error: null,
      });
      // Replicated entries are no longer pinned: apply the log's retention now.
      this.log.trim(this.now(), this.retentionFloor());
      if (this.#pending()) this.#pendingSince = this.now();
      this.#waiters.confirmed();
      this.#pushed?.(outcome);
      return outcome;
    } catch (error) {
      const failures = this.#state.consecutive_failures + 1;
      const behindSchema = SCHEMA_ERROR.test(error instanceof Error ? error.message : String(error));
      const backoff = Math.min(SYNC_BACKOFF_BASE_MS * 2 ** (failures - 1), behindSchema ? SYNC_SCHEMA_RETRY_MS : SYNC_BACKOFF_MAX_MS);
      this.#update({
        sync_errors: this.#state.sync_errors + 1,
        consecutive_failures: failures,
        last_attempt_at: started,
        next_attempt_at: this.now() + backoff,
        last_error: error instanceof Error ? error.message : String(error),
      });
      this.#pendingSince = this.now();
      this.#waiters.failed();
      throw error;
    }
  }

  /** Replicates the next batch of changes, coalesced to the latest state per row. */
  async #push(room: string, started: number): Promise<SyncOutcome> {
    const from = this.#state.replicated_seq;
    const changes = this.log.since(from, SYNC_MAX_CHANGES_PER_PUSH);
    const to = changes.at(-1)?.seq ?? from;
    // The last change of each row decides: a row that still exists is upserted as it is now.
    const touched = new Map<string, Map<number, number>>();
    for (const change of changes) {
      let rows = touched.get(change.table);
      if (!rows) touched.set(change.table, (rows = new Map()));
      rows.set(change.pk, change.seq);
    }
    const removals: D1PreparedStatement[] = [];
    const writes: D1PreparedStatement[] = [];
    let upserted = 0;
    let deleted = 0;
    for (const [table, rows] of touched) {
      if (!this.tables.includes(table)) continue;
      const set = this.#rows(table, [...rows.keys()]);
      const present = new Set(set.rows.map((row) => row[set.columns.indexOf("id")] as number));
      const gone = [...rows.keys()].filter((id) => !present.has(id));
      removals.push(...deletes(this.db, room, table, gone));
      writes.push(...upserts(this.db, room, set, to));
      upserted += set.rows.length;
      deleted += gone.length;
    }
    // Deletes first: a unique key freed by a delete may be taken by an upsert.
    const statements = [...removals, ...writes, watermark(this.db, room, to, this.now())];
    await this.db.batch(statements);
    return { kind: "push", fromSeq: from, toSeq: to, upserted, deleted, statements: statements.length, elapsedMs: this.now() - started };
  }

  /**
   * Rewrites this room's replica: upserts every row page by page in id order,
   * then deletes replica rows the room no longer has, then sets the watermark.
   * Other rooms' rows are never touched.
   */
  async #fullResync(room: string, started: number): Promise<SyncOutcome> {
    const from = this.#state.replicated_seq;
    const snapshot = this.log.head();
    let upserted = 0;
    let deleted = 0;
    let statements = 0;
    for (const table of this.tables) {
      for (let after = 0; ;) {
        const set = this.#page(table, after);
        if (set.rows.length === 0) break;
        const batch = upserts(this.db, room, set, snapshot);
        await this.db.batch(batch);
        statements += batch.length;
        upserted += set.rows.length;
        after = set.rows.at(-1)![set.columns.indexOf("id")] as number;
      }
      for (let after = 0; ;) {
        const { results } = await this.db
          .prepare(`SELECT id FROM "${table}" WHERE room_id = ? AND id > ? ORDER BY id LIMIT ?`)
          .bind(room, after, RESYNC_ORPHAN_PAGE)
          .all<{ id: number }>();
        if (results.length === 0) break;
        const ids = results.map((row) => row.id);
        const present = new Set(this.#existing(table, ids));
        const orphans = ids.filter((id) => !present.has(id));
        if (orphans.length > 0) {
          const batch = deletes(this.db, room, table, orphans);
          await this.db.batch(batch);
          statements += batch.length;
          deleted += orphans.length;
        }
        after = ids.at(-1)!;
      }
    }
    await this.db.batch([watermark(this.db, room, snapshot, this.now())]);
    statements += 1;
    return { kind: "full", fromSeq: from, toSeq: snapshot, upserted, deleted, statements, elapsedMs: this.now() - started };
  }

  /** Current rows of `table` with the given ids. */
  #rows(table: string, ids: readonly number[]): RowSet {
    const rows: SqlStorageValue[][] = [];
    let columns: string[] = [];
    for (let start = 0; start < ids.length; start += 100) {
      const chunk = ids.slice(start, start + 100);
      const cursor = this.sql.exec(`SELECT * FROM "${table}" WHERE id IN (${chunk.map(() => "?").join(", ")})`, ...chunk);
      columns = cursor.columnNames;
      for (const row of cursor.raw()) rows.push(row);
    }
    if (columns.length === 0) columns = this.sql.exec(`SELECT * FROM "${table}" LIMIT 0`).columnNames;
    return { table, columns, rows };
  }

  /** One page of `table` in id order, after id `after`. */
  #page(table: string, after: number): RowSet {
    const cursor = this.sql.exec(`SELECT * FROM "${table}" WHERE id > ? ORDER BY id LIMIT ?`, after, RESYNC_PAGE_ROWS);
    const rows = [...cursor.raw()];
    return { table, columns: cursor.columnNames, rows };
  }

  /** Which of `ids` still exist in the room's `table`. */
  #existing(table: string, ids: readonly number[]): number[] {
    const found: number[] = [];
    for (let start = 0; start < ids.length; start += 100) {
      const chunk = ids.slice(start, start + 100);
      const rows = this.sql.exec<{ id: number }>(`SELECT id FROM "${table}" WHERE id IN (${chunk.map(() => "?").join(", ")})`, ...chunk);
      for (const row of rows) found.push(row.id);
    }
    return found;
  }

  #update(fields: Partial<SyncState>): void {
    const entries = Object.entries(fields);
    if (entries.length === 0) return;
    this.sql.exec(
      `UPDATE _sync_status SET ${entries.map(([column]) => `${column} = ?`).join(", ")} WHERE id = 1`,
      ...entries.map(([, value]) => value as SqlStorageValue),
    );
    this.#state = { ...this.#state, ...fields };
  }
}
