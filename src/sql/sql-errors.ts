/**
 * Why read-only SQL refuses a request: one error type whose `reason` comes
 * from a const table that also names the tRPC code the router answers with.
 * Thrown anywhere in src/sql/; converted to a TRPCError by the domain-error
 * middleware of src/rpc/init.ts.
 */
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server";
import { CodedError } from "../lib/coded-error";

/** Every refusal reason and the error code a client sees for it. */
export const SQL_REFUSALS = {
  /** The text holds no statement (empty, or only comments). */
  empty: "BAD_REQUEST",
  /** The text is not valid SQL (tokenizer or SQLite says so), or names something that does not exist. */
  syntax: "BAD_REQUEST",
  /** More than one statement. */
  multipleStatements: "BAD_REQUEST",
  /** The bound parameters do not match the statement's placeholders. */
  params: "BAD_REQUEST",
  /** A recursive CTE without a small literal LIMIT. */
  unboundedRecursion: "BAD_REQUEST",
  /** Not a SELECT / VALUES / WITH … SELECT statement (DML, DDL, PRAGMA, ATTACH, transaction control, …). */
  notARead: "FORBIDDEN",
  /** The compiled program would write (write cursor, write transaction, schema change). */
  writes: "FORBIDDEN",
  /** The statement reads an internal table (change log, migrations, SQLite or platform tables). */
  internalTable: "FORBIDDEN",
  /** The statement uses a virtual table or pragma function other than json_each / json_tree. */
  virtualTable: "FORBIDDEN",
  /** The query plan's worst case is over MAX_SQL_PLAN_COST, or has a step the estimate cannot bound: refused before it runs. */
  tooCostly: "BAD_REQUEST",
  /** The query used up its work or time budget. */
  budget: "TIMEOUT",
  /** A write happened despite every check; it was rolled back. Never expected. */
  writeDetected: "INTERNAL_SERVER_ERROR",
} as const satisfies Record<string, TRPC_ERROR_CODE_KEY>;

export type SqlRefusalReason = keyof typeof SQL_REFUSALS;

/** A refused read-only SQL request. The message says what was refused and why, for a human. */
export class SqlRefused extends CodedError {
  override readonly name = "SqlRefused";

  constructor(
    readonly reason: SqlRefusalReason,
    message: string,
  ) {
    super(message);
  }

  /** The tRPC error code for this refusal. */
  get code(): TRPC_ERROR_CODE_KEY {
    return SQL_REFUSALS[this.reason];
  }
}
