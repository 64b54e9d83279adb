/**
 * The compiled side of the recursion bound: SQLite's query plan names every
 * recursive CTE it compiled (a `RECURSIVE STEP` under `CO-ROUTINE name` or
 * `MATERIALIZE name`), and each must be one the text check found and bounded
 * by a literal LIMIT (sql-statement.ts). So a recursion the text check did not
 * see is refused, however it was hidden. Used by read-only-sql.ts; pure.
 */
import type { Instruction } from "./program-check";
import { SqlRefused } from "./sql-errors";
import { foldName } from "./sql-tokenizer";

/** One row of `EXPLAIN QUERY PLAN <statement>`. */
export interface PlanRow {
  id: number;
  parent: number;
  detail: string;
}

/** The plan node that holds a recursive CTE's steps, naming it. */
const CTE_NODE = /^(?:CO-ROUTINE|MATERIALIZE) (.+)$/;

/** True when the program may hold a recursive CTE: its queue is always an ephemeral table (OpenEphemeral). */
export function mayRecurse(program: readonly Instruction[]): boolean {
  return program.some((instruction) => instruction.opcode === "OpenEphemeral");
}

/**
 * Throws SqlRefused("unboundedRecursion") unless every recursive CTE in the
 * plan is one of `bounded` (names as the text check read them).
 *
 * @example
 * checkRecursion(plan, new Set(["c"])); // plan: CO-ROUTINE c → RECURSIVE STEP
 */
export function checkRecursion(plan: readonly PlanRow[], bounded: ReadonlySet<string>): void {
  const byId = new Map(plan.map((row) => [row.id, row]));
  for (const row of plan) {
    if (row.detail !== "RECURSIVE STEP") continue;
    const name = CTE_NODE.exec(byId.get(row.parent)?.detail ?? "")?.[1];
    if (name !== undefined && bounded.has(foldName(name))) continue;
    throw new SqlRefused(
      "unboundedRecursion",
      `SQLite compiled a recursive CTE${name === undefined ? "" : ` "${name}"`} that has no literal LIMIT the checks could read; ` +
        "end its body with LIMIT n",
    );
  }
}
