/**
 * Callers waiting for the D1 replica to reach a seq (`sync.replicated`): a
 * bounded set of promises that the sync engine settles from its own outcomes —
 * resolved when a push confirms their seq, rejected when their deadline passes
 * or can no longer be met. No timers: the engine checks deadlines after each
 * attempt and from the room's alarm. Used only by sync-engine.ts.
 */
import { CodedError } from "../lib/coded-error";
import { MAX_REPLICATION_WAITERS } from "../lib/limits";

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

/** One waiting call. */
export interface Waiter {
  readonly seq: number;
  readonly timeoutMs: number;
  readonly deadline: number;
  resolve(ack: ReplicationAck): void;
  reject(error: Error): void;
}

export class ReplicationWaiters {
  readonly #waiters = new Set<Waiter>();

  constructor(private readonly max = MAX_REPLICATION_WAITERS) {}

  get size(): number {
    return this.#waiters.size;
  }

  /** Registers a call waiting for `seq` until `now + timeoutMs`. Throws TooManyWaiters at the cap. */
  add(seq: number, timeoutMs: number, now: number): Promise<ReplicationAck> {
    if (this.#waiters.size >= this.max) {
      throw new TooManyWaiters(`this room already has ${this.max} calls waiting for replication; retry when some have answered`);
    }
    return new Promise<ReplicationAck>((resolve, reject) => {
      this.#waiters.add({ seq, timeoutMs, deadline: now + timeoutMs, resolve, reject });
    });
  }

  /** The earliest deadline, or null when nobody waits. */
  earliestDeadline(): number | null {
    let earliest: number | null = null;
    for (const waiter of this.#waiters) if (earliest === null || waiter.deadline < earliest) earliest = waiter.deadline;
    return earliest;
  }

  /** Removes and returns the waiters whose seq is at most `replicatedSeq`. */
  takeReached(replicatedSeq: number): Waiter[] {
    return this.#take((waiter) => waiter.seq <= replicatedSeq);
  }

  /**
   * Rejects with a ReplicationTimeout every waiter whose deadline is at or
   * before `time`; `why` explains each (it names the seq, the replicated seq and the cause).
   */
  rejectDeadlinesBy(time: number, why: (waiter: Waiter) => string): void {
    for (const waiter of this.#take((candidate) => candidate.deadline <= time)) waiter.reject(new ReplicationTimeout(why(waiter)));
  }

  #take(match: (waiter: Waiter) => boolean): Waiter[] {
    const taken = [...this.#waiters].filter(match);
    for (const waiter of taken) this.#waiters.delete(waiter);
    return taken;
  }
}
