/**
 * `sql.query`: read-only SQL over the room's app tables, for analysts and
 * dashboards. Admin only, or a token carrying the `analytics` grant. The seed's
 * `executeSQL` maps here. Refusals (`SqlRefused`) reach the caller with their
 * own code and message through the domain-error middleware (init.ts).
 */
import { sqlQueryInput } from "../sql/sql-input";
import { analyticsProcedure, router } from "./init";

export const sqlRouter = router({
  /** `{ sql, params?, readonly? }` → `{ columns, rows, rowCount, truncated, elapsedMs, rowsRead }` (docs/read-only-sql.md). */
  query: analyticsProcedure.input(sqlQueryInput).query(({ ctx, input }) => ctx.sql.query({ sql: input.sql, params: input.params })),
});
