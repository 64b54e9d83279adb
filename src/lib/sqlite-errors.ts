/**
 * SQLite constraint violations as caller errors: a duplicate in a unique index
 * is a CONFLICT, a missing required value or a failed CHECK a BAD_REQUEST —
 * with a message naming the table and columns — not an internal error.
 * Used by the domain-error middleware (src/rpc/init.ts).
 */
import { CodedError } from "./coded-error";

const CONSTRAINT = /\b(UNIQUE|NOT NULL|CHECK|FOREIGN KEY) constraint failed(?::\s*([\w.,\s]+?))?(?::\s*SQLITE_CONSTRAINT.*)?$/;

/** A write refused by a constraint of the room's schema. */
export class ConstraintViolation extends CodedError {
  override readonly name = "ConstraintViolation";

  constructor(
    readonly kind: "UNIQUE" | "NOT NULL" | "CHECK" | "FOREIGN KEY",
    /** `table.column` names SQLite reported, if any. */
    readonly columns: readonly string[],
    message: string,
  ) {
    super(message);
  }

  get code() {
    return this.kind === "UNIQUE" || this.kind === "FOREIGN KEY" ? ("CONFLICT" as const) : ("BAD_REQUEST" as const);
  }
}

/** The constraint violation an error from SQLite reports, or null for any other error. */
export function constraintViolation(error: unknown): ConstraintViolation | null {
  const text = error instanceof Error ? error.message : "";
  const match = CONSTRAINT.exec(text);
  if (!match) return null;
  const kind = match[1] as ConstraintViolation["kind"];
  const columns = (match[2] ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  const named = columns.length > 0 ? ` (${columns.join(", ")})` : "";
  const message =
    kind === "UNIQUE"
      ? `a row with the same ${columns.map((column) => column.split(".").pop()).join(" and ") || "key"} already exists${named}`
      : kind === "NOT NULL"
        ? `a required value is missing${named}`
        : kind === "CHECK"
          ? `a value breaks a CHECK constraint${named}`
          : `a referenced row does not exist${named}`;
  return new ConstraintViolation(kind, columns, message);
}

/**
 * The prefix of the message a write refused by a storage quota carries (the
 * quota triggers of src/live/table-quotas.ts raise it).
 */
export const QUOTA_MESSAGE_PREFIX = "nanotype quota: ";

/** A write that would take a table past its storage quota in this room. Not retryable: free space first. */
export class QuotaExceeded extends CodedError {
  override readonly name = "QuotaExceeded";

  get code() {
    return "FORBIDDEN" as const;
  }
}

/** The quota refusal an error from SQLite reports, or null for any other error. */
export function quotaExceeded(error: unknown): QuotaExceeded | null {
  // Drizzle may wrap the driver's error: look through the causes.
  for (let cause = error, depth = 0; cause instanceof Error && depth < 4; cause = cause.cause, depth += 1) {
    const at = cause.message.indexOf(QUOTA_MESSAGE_PREFIX);
    if (at < 0) continue;
    const message = cause.message.slice(at + QUOTA_MESSAGE_PREFIX.length).replace(/:\s*SQLITE_CONSTRAINT.*$/s, "");
    return new QuotaExceeded(`storage quota: ${message}`);
  }
  return null;
}

/** A SQLite error a caller caused (a constraint violation or a quota), as the domain error to answer with; null otherwise. */
export function callerSqliteError(error: unknown): ConstraintViolation | QuotaExceeded | null {
  return quotaExceeded(error) ?? constraintViolation(error);
}
