/**
 * The one parse of a read-only SQL request (zod), shared by tRPC `sql.query`
 * and the seed's `executeSQL`: SQL text within MAX_SQL_CHARS, at most
 * MAX_SQL_PARAMS bound parameters, and `readonly` that can only be true.
 */
import { z } from "zod";
import { MAX_SQL_CHARS, MAX_SQL_PARAMS } from "../protocol/wire-limits";

/** A bound parameter: text, a finite number or null. */
export const sqlParam = z.union([z.string(), z.number(), z.null()], { error: "each param must be a string, a finite number or null" });
export type SqlParam = z.infer<typeof sqlParam>;

export const sqlQueryInput = z.strictObject({
  sql: z
    .string({ error: "sql must be a string" })
    .max(MAX_SQL_CHARS, { error: `sql must be at most ${MAX_SQL_CHARS} characters (MAX_SQL_CHARS)` }),
  params: z
    .array(sqlParam)
    .max(MAX_SQL_PARAMS, { error: `at most ${MAX_SQL_PARAMS} params (MAX_SQL_PARAMS)` })
    .optional(),
  /** Accepted for the seed protocol's `readonly: true`; there is no write mode, so false is refused. */
  readonly: z.literal(true, { error: "there is no write mode: readonly must be true or left out" }).optional(),
});

export type SqlQueryInput = z.infer<typeof sqlQueryInput>;
