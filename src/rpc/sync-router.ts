/**
 * `sync.*`: the D1 replica's health, and a forced full resync for admins.
 * (Replica reads are built with replica-procedures.ts and served by the Worker from D1.)
 */
import { TRPCError } from "@trpc/server";
import { adminProcedure, readerProcedure, router } from "./init";

export const syncRouter = router({
  /** The product documentation's status fields, plus `roomSeq`, `replicatedSeq`, `pendingChanges` and `lagMs`. */
  status: readerProcedure.query(({ ctx }) => ctx.sync.status()),

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
