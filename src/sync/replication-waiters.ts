/**
 * Callers waiting for the D1 replica to reach a seq (`sync.replicated`): a
 * bounded set of promises the sync engine settles from its own outcomes —
 * resolved when a push confirms their seq, rejected when their deadline passes
 * or can no longer be met. No timers: a waiting call starts a push at once
 * (outside a backoff), deadlines are checked after each attempt, and while no
 * push is in flight the room's alarm covers the earliest one. Used only by
 * sync-engine.ts, which reports each attempt here.
 */
import { CodedError } from "../lib/coded-error";
import { MAX_REPLICATION_WAITERS } from "../lib/limits";
import { ReplicaBookmark } from "./replica-bookmark";

/** What a caller gets once the replica has its seq. */
export interface ReplicationAck {
  /** The seq waited for. */
  seq: number;
  /** The room's replicated seq when the answer was made (≥ `seq`). */
  replicatedSeq: number;
  /**
   * A D1 session bookmark taken at the primary after the confirmation: a replica
   * read sent with it (header `x-nanotype-bookmark`) sees the write. Null when
   * it could not be read (then pass `minSeq` to the read instead).
   */
  bookmark: string | null;
}

/** A seq beyond the room's head: nothing will ever replicate it. */
export class SeqAheadError extends CodedError {
  get code() {
    return "BAD_REQUEST" as const;
  }
}

/** The replica did not reach the seq in time (or cannot before the deadline); the message says why. */
export class ReplicationTimeout extends CodedError {
  get code() {
    return "TIMEOUT" as const;
  }
}

/** The room already holds MAX_REPLICATION_WAITERS waiting calls. */
export class TooManyWaiters extends CodedError {
  get code() {
    return "TOO_MANY_REQUESTS" as const;
  }
}

/** The sync engine as the waiters see it: its progress now, and a way to start a push. */
export interface ReplicationProgress {
  now(): number;
  facts(): ReplicationFacts;
  /** Starts a push now; its outcome comes back through `confirmed`, `failed` and `attemptEnded`. */
  push(): void;
}

/** What the sync engine knows about the replica and its attempts. */
export interface ReplicationFacts {
  room: string | null;
  head: number;
  replicatedSeq: number;
  /** Whether changes (or a full resync) wait to be pushed. */
  pending: boolean;
  /** When the push in flight started, or null. */
  runningSince: number | null;
  failures: number;
  lastError: string | null;
  /** When the next attempt is allowed (after a failure's backoff), or null. */
  nextAttemptAt: number | null;
}

/** One waiting call. */
interface Waiter {
  readonly seq: number;
  readonly timeoutMs: number;
  readonly deadline: number;
  resolve(ack: ReplicationAck): void;
  reject(error: Error): void;
}

export class ReplicationWaiters {
  readonly #waiters = new Set<Waiter>();
  readonly #bookmark: ReplicaBookmark;
  /** Asks the room to bring its alarm in line with the engine's `nextDue()`. */
  #requestAlarm: () => Promise<void> = async () => {};

  constructor(
    private readonly progress: ReplicationProgress,
    db: D1Database,
    private readonly max = MAX_REPLICATION_WAITERS,
  ) {
    this.#bookmark = new ReplicaBookmark(db);
  }

  /** See SyncEngine.onAlarmNeeded. */
  onAlarmNeeded(request: () => Promise<void>): void {
    this.#requestAlarm = request;
  }

  /** Waits for `seq` (see SyncEngine.replicated). */
  async wait(seq: number, timeoutMs: number): Promise<ReplicationAck> {
    const facts = this.progress.facts();
    if (seq > facts.head)
      throw new SeqAheadError(`seq ${seq} is beyond this room's head (${facts.head}): wait for a seq a mutation returned`);
    if (seq <= facts.replicatedSeq) {
      return { seq, replicatedSeq: facts.replicatedSeq, bookmark: await this.#bookmark.covering(facts.replicatedSeq, facts.room) };
    }
    if (this.#waiters.size >= this.max) {
      throw new TooManyWaiters(`this room already has ${this.max} calls waiting for replication; retry when some have answered`);
    }
    const now = this.progress.now();
    const answer = new Promise<ReplicationAck>((resolve, reject) => {
      this.#waiters.add({ seq, timeoutMs, deadline: now + timeoutMs, resolve, reject });
    });
    if (facts.runningSince === null) {
      if (facts.nextAttemptAt !== null && facts.nextAttemptAt > now) {
        // In backoff: never push early for a waiter (that would hammer a failing D1).
        this.failed();
        this.#alarmNeeded();
      } else {
        this.progress.push();
      }
    }
    return answer;
  }

  /** The earliest deadline, or null when nobody waits. */
  earliestDeadline(): number | null {
    let earliest: number | null = null;
    for (const waiter of this.#waiters) if (earliest === null || waiter.deadline < earliest) earliest = waiter.deadline;
    return earliest;
  }

  /** After a confirmed push: resolves every waiter the replica reached, with one bookmark read for all of them. */
  confirmed(): void {
    if (this.#waiters.size === 0) return;
    const { replicatedSeq, room } = this.progress.facts();
    const reached = this.#take((waiter) => waiter.seq <= replicatedSeq);
    if (reached.length === 0) return;
    void this.#bookmark.covering(replicatedSeq, room).then((bookmark) => {
      for (const waiter of reached) waiter.resolve({ seq: waiter.seq, replicatedSeq, bookmark });
    });
  }

  /** After a failed push (or while backing off): rejects at once the waiters whose deadline comes before the next attempt. */
  failed(): void {
    if (this.#waiters.size === 0) return;
    const facts = this.progress.facts();
    if (facts.nextAttemptAt === null) return;
    this.#reject(
      facts.nextAttemptAt,
      (waiter) =>
        `seq ${waiter.seq} cannot be replicated within ${waiter.timeoutMs} ms (replicatedSeq ${facts.replicatedSeq}): ` +
        `${this.#why(facts)}, after this call's deadline`,
    );
  }

  /** After any attempt: keep pushing while waiters wait and pushes succeed, else let the alarm retry and time them out. */
  attemptEnded(progressed: boolean): void {
    this.expire();
    if (this.#waiters.size === 0) return;
    const { pending, nextAttemptAt } = this.progress.facts();
    if (progressed && pending && (nextAttemptAt === null || nextAttemptAt <= this.progress.now())) this.progress.push();
    else this.#alarmNeeded();
  }

  /** Rejects the waiters whose deadline has passed (after an attempt, and from the room's alarm). */
  expire(): void {
    if (this.#waiters.size === 0) return;
    const facts = this.progress.facts();
    this.#reject(
      this.progress.now(),
      (waiter) =>
        `seq ${waiter.seq} was not replicated within ${waiter.timeoutMs} ms (replicatedSeq ${facts.replicatedSeq}): ${this.#why(facts)}`,
    );
  }

  /** Why the replica has not reached a seq yet, in words (the end of a TIMEOUT message). */
  #why({ failures, lastError, nextAttemptAt, runningSince }: ReplicationFacts): string {
    const now = this.progress.now();
    if (failures > 0) {
      const retry = nextAttemptAt === null ? "" : `; next attempt in ${Math.max(0, nextAttemptAt - now)} ms`;
      return `D1 is failing (${failures} consecutive failures, backing off; last error: ${lastError})${retry}`;
    }
    if (runningSince !== null) return `a push to D1 has been in flight for ${now - runningSince} ms`;
    return "the push has not run yet";
  }

  /** Rejects with a ReplicationTimeout every waiter whose deadline is at or before `time`. */
  #reject(time: number, why: (waiter: Waiter) => string): void {
    for (const waiter of this.#take((candidate) => candidate.deadline <= time)) waiter.reject(new ReplicationTimeout(why(waiter)));
  }

  #take(match: (waiter: Waiter) => boolean): Waiter[] {
    const taken = [...this.#waiters].filter(match);
    for (const waiter of taken) this.#waiters.delete(waiter);
    return taken;
  }

  #alarmNeeded(): void {
    this.#requestAlarm().catch((error: unknown) => console.error("scheduling the sync alarm for replication waiters failed", error));
  }
}
