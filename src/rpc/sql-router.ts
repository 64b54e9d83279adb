/**
 * `sql.query`: read-only SQL over the room's app tables, for analysts and
 * dashboards. Admin only, or a token carrying the `analytics` grant. The seed's
 * `executeSQL` maps here. Refusals become tRPC errors with a clear message.
 */
import { TRPCError } from "@trpc/server";
import { SqlRefused } from "../sql/sql-errors";
import { sqlQueryInput } from "../sql/sql-input";
import { analyticsProcedure, router } from "./init";

export const sqlRouter = router({
  /** `{ sql, params?, readonly? }` → `{ columns, rows, rowCount, truncated, elapsedMs, rowsRead }` (docs/read-only-sql.md). */
  query: analyticsProcedure.input(sqlQueryInput).query(({ ctx, input }) => {
    try {
      return ctx.sql.query({ sql: input.sql, params: input.params });
    } catch (error) {
      if (error instanceof SqlRefused) throw new TRPCError({ code: error.code, message: error.message, cause: error });
      throw error;
    }
  }),
});
