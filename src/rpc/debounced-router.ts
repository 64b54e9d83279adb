/**
 * `debounced.*`: high-frequency values (sliders, drawing, counters) shown to
 * watchers at once and written to SQLite at most once per interval per key.
 * Writers update and flush; readers read, watch and see stats.
 */
import { TRPCError } from "@trpc/server";
import { on } from "node:events";
import { debouncedKeyInput, debouncedWatchInput, flushDebouncedInput, updateDebouncedInput } from "../debounce/debounced-inputs";
import { DEBOUNCED_EVENT, type DebouncedEvent } from "../debounce/debounced-writer";
import { readerProcedure, router, writerProcedure } from "./init";

export const debouncedRouter = router({
  /** Accepts a value for `key`; it is pushed to watchers now and persisted within the key's interval. */
  /** A full buffer answers TOO_MANY_REQUESTS (`DebouncedWriteError`, mapped in init.ts). */
  update: writerProcedure
    .input(updateDebouncedInput)
    .mutation(({ ctx, input }) => ctx.debounced.update(input.key, input.value, ctx.identity.sub, input.intervalMs)),

  /** Writes pending values now: one key, or all when `key` is omitted. */
  flush: writerProcedure.input(flushDebouncedInput).mutation(({ ctx, input }) => {
    try {
      const keys = ctx.debounced.flush(input?.key === undefined ? {} : { keys: [input.key] });
      return { flushed: keys.length, keys };
    } catch (error) {
      throw new TRPCError({
        code: "INTERNAL_SERVER_ERROR",
        message: `flush failed; the values stay pending and will be retried: ${(error as Error).message}`,
        cause: error,
      });
    }
  }),

  /** Forgets `key` (its pending value and its stored row), freeing its place in the room's debounced quota. */
  delete: writerProcedure
    .input(debouncedKeyInput)
    .mutation(({ ctx, input }) => ({ key: input.key, deleted: ctx.debounced.delete(input.key, ctx.identity.sub) })),

  /** The latest value of `key` (pending or persisted), or null. */
  get: readerProcedure.input(debouncedKeyInput).query(({ ctx, input }) => ctx.debounced.get(input.key)),

  /** Every accepted update as it arrives, every flush and every deletion. */
  watch: readerProcedure.input(debouncedWatchInput).subscription(async function* ({ ctx, signal }): AsyncGenerator<DebouncedEvent> {
    for await (const [event] of on(ctx.debounced.events, DEBOUNCED_EVENT, { signal })) yield event as DebouncedEvent;
  }),

  /** Updates received, SQLite writes, coalescing ratio, pending keys and bytes, last flush, flush errors. */
  stats: readerProcedure.query(({ ctx }) => ctx.debounced.stats()),
});
