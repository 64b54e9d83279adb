/**
 * Runs a function inside a storage transaction that always rolls back, so
 * nothing it does to the database can persist, whatever it is. Durable Object
 * SQLite refuses BEGIN / SAVEPOINT in SQL, so this uses `transactionSync` and
 * ends it by throwing. Used by read-only-sql.ts.
 */

/** The storage a rolled-back run needs: the room's `ctx.storage`. */
export type TransactionalStorage = Pick<DurableObjectStorage, "transactionSync">;

/** Thrown to end the transaction; never escapes `rolledBack`. */
class Rollback extends Error {
  constructor() {
    super("read-only SQL: rolling back");
  }
}

/**
 * Runs `run` in a transaction that is rolled back after it returns (or throws)
 * and returns its result. Read everything you need inside `run`: cursors are
 * aborted by the rollback.
 *
 * @example
 * const count = rolledBack(ctx.storage, () => ctx.storage.sql.exec("SELECT count(*) AS n FROM tasks").one().n);
 */
export function rolledBack<T>(storage: TransactionalStorage, run: () => T): T {
  let outcome: { value: T } | null = null;
  const signal = new Rollback();
  try {
    storage.transactionSync(() => {
      outcome = { value: run() };
      throw signal;
    });
  } catch (error) {
    if (error !== signal || outcome === null) throw error;
  }
  // transactionSync only returns by throwing, and only our signal is swallowed.
  return (outcome as { value: T } | null)!.value;
}
