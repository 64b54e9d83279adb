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
   * Like `memo`, for large values (live query results): the hub keeps them only
   * while someone else still holds them, so sharing never adds memory — a
   * thousand different queries' results are not all kept until the next commit.
   */
  share<T extends object>(key: string, make: () => T): T {
    const held = (this.#memo.get(key) as WeakRef<T> | undefined)?.deref();
    if (held) return held;
    const value = make();
    this.#memo.set(key, new WeakRef(value));
    return value;
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
