/**
 * Exactly-once mutations. A mutation may carry a mutation id (a client id and
 * a counter, or any opaque key, unique per user); the ledger runs it once and
 * records `(user, id) → answer, seq` in `_mutations`, in the same implicit
 * transaction as the mutation's writes: the record is written synchronously
 * when the procedure returns, before the event yields, so a crash keeps both
 * or neither. A repeat of the id — after a lost answer, or while the first
 * attempt still runs — gets the recorded answer and runs nothing.
 *
 * The window: a room remembers a user's ids for `mutationIdTtlMs` (24 h), at
 * most `mutationIdsPerUser` per user and `mutationIdsPerRoom` in all (oldest
 * forgotten first; trimming runs every MUTATION_TRIM_EVERY records, so up to
 * that many more may linger). A forgotten id is a new id: a repeat runs again.
 * A failed mutation is not recorded: its waiters get its error, and a later
 * repeat runs again. Nor is one that changed no table (the change log's head
 * did not move: cursors, presence, cache, debounced updates in memory): it is
 * safe to repeat, and recording it would cost two row writes per call. Like the
 * change log, the engine manages the table itself.
 */
import { TRPCError } from "@trpc/server";
import { MAX_RECORDED_ANSWER_BYTES, MUTATION_TRIM_EVERY } from "../lib/limits";
import { utf8Bytes } from "../lib/utf8";

export const LEDGER_TABLE = "_mutations";

/**
 * `n` orders records and encodes when they were made (ms × 1024 plus a tie
 * breaker), so trimming by age is a range delete on the primary key.
 */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (n INTEGER PRIMARY KEY, sub TEXT NOT NULL, id TEXT NOT NULL, path TEXT NOT NULL, fingerprint INTEGER NOT NULL, seq INTEGER NOT NULL, answer TEXT, answer_bytes INTEGER NOT NULL)`,
  `CREATE UNIQUE INDEX IF NOT EXISTS ${LEDGER_TABLE}_by_id ON ${LEDGER_TABLE} (sub, id)`,
];
const TICKS_PER_MS = 1024;

/** One mutation as the ledger knows it. */
export interface MutationCall {
  /** Who sent it (the token's `sub`): ids are unique per user. */
  user: string;
  /** The caller's mutation id (at most MAX_MUTATION_ID_CHARS characters, checked by the transport). */
  id: string;
  path: string;
  /** The input as the caller serialized it (superjson JSON text; "" for none): a repeat must send the same. */
  input: string;
}

/** How answers are kept: the router's output transformer. */
export interface AnswerCodec {
  serialize(value: unknown): unknown;
  deserialize(json: never): unknown;
}

export interface LedgerWindow {
  mutationIdsPerUser: number;
  mutationIdsPerRoom: number;
  mutationIdTtlMs: number;
}

interface Running {
  path: string;
  fingerprint: number;
  done: Promise<unknown>;
}

type Recorded = {
  n: number;
  path: string;
  fingerprint: number;
  seq: number;
  answer: string | null;
  answer_bytes: number;
};

export class MutationLedger {
  readonly #running = new Map<string, Running>();
  /** Ids kept per user, counted once per user per wake and kept in step after. */
  readonly #perUser = new Map<string, number>();
  #total: number | null = null;
  #lastN = 0;
  #sinceTrim = 0;

  constructor(
    private readonly sql: SqlStorage,
    /** The room's change-log head: the seq a recorded mutation committed at. */
    private readonly head: () => number,
    private readonly codec: AnswerCodec,
    private readonly window: LedgerWindow,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates the table if missing. Call with the room's other setup, before any call runs. */
  install(): void {
    for (const statement of SCHEMA) this.sql.exec(statement);
  }

  /**
   * Runs `execute` for `call` at most once: a first attempt runs and its answer
   * is recorded; a repeat gets that answer (also while the first still runs).
   * An id used before with another path or input is refused with CONFLICT.
   */
  async run(call: MutationCall, execute: () => Promise<unknown>): Promise<unknown> {
    const key = `${call.user}\u0000${call.id}`;
    const fingerprint = fingerprintOf(call.path, call.input);
    const running = this.#running.get(key);
    if (running) {
      this.#check(call, running, fingerprint);
      return running.done;
    }
    const recorded = this.sql
      .exec<Recorded>(
        `SELECT n, path, fingerprint, seq, answer, answer_bytes FROM ${LEDGER_TABLE} WHERE sub = ? AND id = ?`,
        call.user,
        call.id,
      )
      .toArray()[0];
    // Past the window's age an id is forgotten, even before a trim removes it.
    if (recorded && recorded.n < this.#oldestKept()) this.trim(call.user);
    else if (recorded) {
      this.#check(call, recorded, fingerprint);
      if (recorded.answer === null) {
        throw new TRPCError({
          code: "CONFLICT",
          message:
            `mutation id "${call.id}" was already applied (seq ${recorded.seq}); its answer (${recorded.answer_bytes} bytes) was over ` +
            `the ${MAX_RECORDED_ANSWER_BYTES} bytes a room keeps, so it is not repeated: read the result instead`,
        });
      }
      return this.codec.deserialize(JSON.parse(recorded.answer) as never);
    }
    const headBefore = this.head();
    const done = execute().then((value) => {
      // Synchronously after the procedure returns: the same implicit transaction as its writes.
      // A mutation that changed no table (a cursor move, presence, the cache, a debounced update
      // held in memory) is safe to run again and is not recorded: recording it would cost two row writes.
      if (this.head() !== headBefore) this.#record(call, fingerprint, value);
      return value;
    });
    this.#running.set(key, { path: call.path, fingerprint, done });
    try {
      return await done;
    } finally {
      this.#running.delete(key);
    }
  }

  #check(call: MutationCall, earlier: { path: string; fingerprint: number }, fingerprint: number): void {
    if (earlier.path !== call.path) {
      throw new TRPCError({
        code: "CONFLICT",
        message: `mutation id "${call.id}" was already used for "${earlier.path}"; send "${call.path}" with a new mutation id`,
      });
    }
    if (earlier.fingerprint !== fingerprint) {
      throw new TRPCError({
        code: "CONFLICT",
        message: `mutation id "${call.id}" was already used for "${call.path}" with a different input; a new mutation needs a new mutation id`,
      });
    }
  }

  #record(call: MutationCall, fingerprint: number, value: unknown): void {
    const text = JSON.stringify(this.codec.serialize(value)) ?? "null";
    const bytes = utf8Bytes(text);
    const n = Math.max(this.#lastKnownN() + 1, this.now() * TICKS_PER_MS);
    this.#lastN = n;
    this.sql.exec(
      `INSERT INTO ${LEDGER_TABLE} (n, sub, id, path, fingerprint, seq, answer, answer_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      n,
      call.user,
      call.id,
      call.path,
      fingerprint,
      this.head(),
      bytes <= MAX_RECORDED_ANSWER_BYTES ? text : null,
      bytes,
    );
    this.#perUser.set(call.user, this.#countOf(call.user) + 1);
    this.#total = this.#totalCount() + 1;
    if (++this.#sinceTrim >= MUTATION_TRIM_EVERY || this.#countOf(call.user) >= this.window.mutationIdsPerUser + MUTATION_TRIM_EVERY) {
      this.trim(call.user);
    }
  }

  /**
   * Forgets what the window no longer holds: ids older than the TTL, the oldest
   * of `user` beyond the per-user count, the room's oldest beyond the room count.
   */
  trim(user?: string): void {
    this.#sinceTrim = 0;
    const { mutationIdsPerUser, mutationIdsPerRoom } = this.window;
    this.#forget(this.sql.exec<{ sub: string }>(`DELETE FROM ${LEDGER_TABLE} WHERE n < ? RETURNING sub`, this.#oldestKept()));
    if (user !== undefined) {
      const excess = this.#countOf(user) - mutationIdsPerUser;
      if (excess > 0) {
        this.#forget(
          this.sql.exec<{ sub: string }>(
            `DELETE FROM ${LEDGER_TABLE} WHERE n IN (SELECT n FROM ${LEDGER_TABLE} WHERE sub = ? ORDER BY n LIMIT ?) RETURNING sub`,
            user,
            excess,
          ),
        );
      }
    }
    const excess = this.#totalCount() - mutationIdsPerRoom;
    if (excess > 0) {
      this.#forget(
        this.sql.exec<{ sub: string }>(
          `DELETE FROM ${LEDGER_TABLE} WHERE n IN (SELECT n FROM ${LEDGER_TABLE} ORDER BY n LIMIT ?) RETURNING sub`,
          excess,
        ),
      );
    }
  }

  /** The smallest `n` still inside the window's age. */
  #oldestKept(): number {
    return (this.now() - this.window.mutationIdTtlMs) * TICKS_PER_MS;
  }

  /** How many ids the room keeps for `user` (all users when omitted). */
  kept(user?: string): number {
    return user === undefined ? this.#totalCount() : this.#countOf(user);
  }

  #forget(deleted: Iterable<{ sub: string }>): void {
    for (const { sub } of deleted) {
      this.#total = this.#totalCount() - 1;
      const count = this.#perUser.get(sub);
      if (count !== undefined) this.#perUser.set(sub, count - 1);
    }
  }

  #countOf(user: string): number {
    let count = this.#perUser.get(user);
    if (count === undefined) {
      count = this.sql.exec<{ c: number }>(`SELECT count(*) AS c FROM ${LEDGER_TABLE} WHERE sub = ?`, user).one().c;
      this.#perUser.set(user, count);
    }
    return count;
  }

  #totalCount(): number {
    this.#total ??= this.sql.exec<{ c: number }>(`SELECT count(*) AS c FROM ${LEDGER_TABLE}`).one().c;
    return this.#total;
  }

  #lastKnownN(): number {
    if (this.#lastN === 0) this.#lastN = this.sql.exec<{ n: number | null }>(`SELECT max(n) AS n FROM ${LEDGER_TABLE}`).one().n ?? 0;
    return this.#lastN;
  }
}

/** A 53-bit hash of a call (cyrb53): enough to tell a reused id from a repeat; ids are scoped per user, so collisions only hurt their maker. */
export function fingerprintOf(path: string, input: string): number {
  const text = `${path}\u0000${input}`;
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
