/**
 * `memory.*`: short-lived cache entries with TTLs in the room's memory store
 * (never SQLite; lost when the room is evicted or hibernates), and usage stats.
 */
import { memoryKeyInput, memorySetInput } from "../presence/presence-inputs";
import { readerProcedure, router, writerProcedure } from "./init";

export const memoryRouter = router({
  /** Stores `value` under `key` for `ttlMs` (default 60 s); beyond the cache budget the least recently used cache entry is evicted. */
  set: writerProcedure.input(memorySetInput).mutation(({ ctx, input }) => ctx.memory.set(input.key, input.value, input.ttlMs)),

  /** The live entry, or null. */
  get: readerProcedure.input(memoryKeyInput).query(({ ctx, input }) => ctx.memory.get(input.key) ?? null),

  delete: writerProcedure.input(memoryKeyInput).mutation(({ ctx, input }) => ({ key: input.key, deleted: ctx.memory.delete(input.key) })),

  /** Totals, each budget's use and bounds (presence: users; cache: entries and bytes), and per kind entries, bytes, sets, hits, misses, deletes, evictions, expirations. */
  stats: readerProcedure.query(({ ctx }) => ctx.memory.stats()),
});
