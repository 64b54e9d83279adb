/**
 * The mutation id every transport accepts (see src/live/mutation-ledger.ts):
 * `params.mutationId` in a tRPC WebSocket request, the `Idempotency-Key`
 * header over HTTP, `mutationId` in a seed `rpc` frame or a direct call. One
 * parse for all of them: a non-empty string of at most MAX_MUTATION_ID_CHARS
 * printable ASCII characters, unique per user.
 */
import { z } from "zod";
import { MAX_MUTATION_ID_CHARS } from "./wire-limits";

/** The HTTP header that carries a mutation id. */
export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";

export const mutationIdSchema = z
  .string({ error: "mutationId must be a string" })
  .min(1, { error: "mutationId must not be empty" })
  .max(MAX_MUTATION_ID_CHARS, { error: `mutationId must be at most ${MAX_MUTATION_ID_CHARS} characters` })
  .regex(/^[\x20-\x7e]+$/, { error: "mutationId must be printable ASCII" });

/** A mutation id as sent (undefined when none), or why it is refused. */
export function parseMutationId(raw: unknown): { ok: true; id: string | undefined } | { ok: false; message: string } {
  if (raw === undefined || raw === null) return { ok: true, id: undefined };
  const parsed = mutationIdSchema.safeParse(raw);
  return parsed.success ? { ok: true, id: parsed.data } : { ok: false, message: parsed.error.issues[0]?.message ?? "invalid mutationId" };
}
