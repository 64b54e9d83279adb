/**
 * Tells live subscriptions that a commit happened. The room calls `publish()`
 * after every event that may have written; waiting feeds and live queries then
 * read the change log. One publish per event, so a multi-row write is one commit.
 */
import type { ChangeLog } from "./change-log";

/** A published commit: changes with seq in (from, to], touching `tables`. */
export interface Commit {
  from: number;
  to: number;
  tables: ReadonlySet<string>;
}

/** How many new seqs between opportunistic retention passes. */
const TRIM_EVERY = 1_000;

export class CommitHub {
  #published: number;
  #trimmedAt: number;
  #waiters = new Set<(commit: Commit | null) => void>();
  /** Values computed once per commit and shared by every subscription (see `memo`). */
  #memo = new Map<string, unknown>();

  constructor(
    private readonly log: ChangeLog,
    /** The oldest seq some reader (the sync engine) still needs; retention never trims past it. */
    private readonly retentionFloor: () => number = () => Number.MAX_SAFE_INTEGER,
  ) {
    this.#published = log.head();
    this.#trimmedAt = this.#published;
  }

  /** The last seq announced to subscribers. Feeds never read past it. */
  get published(): number {
    return this.#published;
  }

  /** Announces everything committed since the last publish. Returns the commit, or null when nothing changed. */
  publish(): Commit | null {
    const head = this.log.head();
    if (head === this.#published) return null;
    const commit: Commit = { from: this.#published, to: head, tables: this.log.tablesChanged(this.#published, head) };
    this.#published = head;
    this.#memo.clear();
    this.#results.clear();
    this.#firsts.clear();
    if (head - this.#trimmedAt >= TRIM_EVERY) {
      this.#trimmedAt = head;
      this.log.trim(Date.now(), this.retentionFloor());
    }
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake(commit);
    return commit;
  }

  /**
   * A value computed once until the next commit and shared by every caller
   * with the same key — so 1,000 subscribers of one change read its row once
   * and send one serialized event (the WebSocket adapter caches the encoding
   * per object).
   */
  memo<T>(key: string, make: () => T): T {
    if (this.#memo.has(key)) return this.#memo.get(key) as T;
    const value = make();
    this.#memo.set(key, value);
    return value;
  }

  /**
   * Live query results of this commit, by query and seq, with how many of the
   * query's subscribers have yet to take them: an entry is dropped as soon as
   * the last one took it, so sharing never holds a result longer than needed.
   */
  #results = new Map<string, { value: unknown; left: number }>();
  /** First results of this commit by query and seq, held weakly (see `first`). */
  #firsts = new Map<string, WeakRef<object>>();
  /** True when a live result was made since the lane last let the event loop run (see `lane`). */
  #made = false;
  /** Live subscriptions per query key (see `join`). */
  #subscribers = new Map<string, number>();
  /** The tail of the live-result lane (see `lane`). */
  #lane: Promise<void> = Promise.resolve();

  /** Counts a live subscription of query `key` until the returned function is called. */
  join(key: string): () => void {
    this.#subscribers.set(key, (this.#subscribers.get(key) ?? 0) + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const count = (this.#subscribers.get(key) ?? 1) - 1;
      if (count > 0) this.#subscribers.set(key, count);
      else this.#subscribers.delete(key);
    };
  }

  /**
   * The result of query `key` at seq `at`, made once for all its subscribers
   * and forgotten when each of them has taken it (or at the next commit).
   */
  take<T>(key: string, at: number, make: () => T): T {
    const id = `${key}@${at}`;
    let entry = this.#results.get(id);
    if (!entry) {
      this.#made = true;
      this.#results.set(id, (entry = { value: make(), left: this.#subscribers.get(key) ?? 1 }));
    }
    if (--entry.left <= 0) this.#results.delete(id);
    return entry.value as T;
  }

  /**
   * The first result of query `key` at seq `at` for a new subscriber: shared
   * with every other subscriber that starts the same query before the next
   * commit while any of them still holds it (a weak reference: nothing is kept
   * alive for sharing's sake). A thousand subscribers joining at once then
   * hold one result, not a thousand.
   */
  first<T>(key: string, at: number, make: () => T): T {
    const id = `${key}@${at}`;
    const hit = this.#firsts.get(id)?.deref();
    if (hit !== undefined) return hit as T;
    this.#made = true;
    const value = make();
    if (typeof value === "object" && value !== null) this.#firsts.set(id, new WeakRef(value));
    return value;
  }

  /**
   * Live results are made and sent one at a time per room: waits for the lane
   * and returns its release. A commit reaching a thousand different live
   * queries then holds one result (and its encoding) in memory at a time, not
   * a thousand. After a result was made, the lane lets the event loop run
   * before the next one, so what was sent (the mutation's own answer first)
   * leaves the room while the rest are made, instead of after all of them.
   */
  async lane(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const before = this.#lane;
    this.#lane = before.then(() => mine);
    await before;
    if (this.#made) {
      this.#made = false;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return release;
  }

  /** Resolves with the next commit, or null once `signal` aborts. */
  next(signal: AbortSignal): Promise<Commit | null> {
    if (signal.aborted) return Promise.resolve(null);
    return new Promise((resolve) => {
      const onAbort = () => {
        this.#waiters.delete(wake);
        resolve(null);
      };
      const wake = (commit: Commit | null) => {
        signal.removeEventListener("abort", onAbort);
        resolve(commit);
      };
      this.#waiters.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}
