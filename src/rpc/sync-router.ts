/**
 * `sync.*`: the D1 replica's health, waiting for a write to reach it, and a
 * forced full resync for admins.
 * (Replica reads are built with replica-procedures.ts and served by the Worker from D1.)
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { DEFAULT_REPLICATED_TIMEOUT_MS, MAX_REPLICATED_TIMEOUT_MS } from "../lib/limits";
import { adminProcedure, readerProcedure, router } from "./init";

const replicatedInput = z.strictObject({
  /** The seq a mutation returned. */
  seq: z.number().int().min(0),
  /** How long to wait (ms); DEFAULT_REPLICATED_TIMEOUT_MS when omitted. */
  timeoutMs: z
    .number()
    .int()
    .min(1, { error: "timeoutMs must be at least 1" })
    .max(MAX_REPLICATED_TIMEOUT_MS, { error: `timeoutMs must be at most ${MAX_REPLICATED_TIMEOUT_MS}` })
    .optional(),
});

export const syncRouter = router({
  /** The product documentation's status fields, plus `roomSeq`, `replicatedSeq`, `pendingChanges` and `lagMs`. */
  status: readerProcedure.query(({ ctx }) => ctx.sync.status()),

  /**
   * Acknowledgement level `replicated`: answers once the D1 replica has
   * confirmed `seq` (the seq a mutation returned, its `committed` level), with
   * a D1 bookmark so a replica read sent with it (`x-nanotype-bookmark`; the
   * room client does it by itself) sees the write. Pushes at once unless D1 is
   * backing off. TIMEOUT after `timeoutMs` (default 10 s, at most 30 s) or as
   * soon as D1's backoff puts the next attempt after the deadline; BAD_REQUEST
   * for a seq beyond the room's head; TOO_MANY_REQUESTS past
   * MAX_REPLICATION_WAITERS calls waiting in the room.
   *
   * @example
   * const task = await client.tasks.create.mutate({ title: "Ship it" });
   * const { bookmark } = await client.sync.replicated.query({ seq: task.seq });
   */
  replicated: readerProcedure.input(replicatedInput).query(async ({ ctx, input }) => {
    const started = Date.now();
    const ack = await ctx.sync.replicated(input.seq, input.timeoutMs ?? DEFAULT_REPLICATED_TIMEOUT_MS);
    return { ...ack, waitedMs: Date.now() - started };
  }),

  /** Rewrites this room's replica now and reports what it did; an error when D1 fails. */
  forceSyncAll: adminProcedure.mutation(async ({ ctx }) => {
    try {
      const outcome = await ctx.sync.sync({ full: true });
      return { ok: true as const, outcome, status: ctx.sync.status() };
    } catch (error) {
      throw new TRPCError({
        code: "INTERNAL_SERVER_ERROR",
        message: `full resync failed; it will be retried with backoff: ${(error as Error).message}`,
        cause: error,
      });
    }
  }),
});
