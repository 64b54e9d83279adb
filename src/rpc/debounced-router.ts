/**
 * `debounced.*`: high-frequency values (sliders, drawing, counters) shown to
 * watchers at once and written to SQLite at most once per interval per key.
 * Writers update and flush; readers read, watch and see stats.
 *
 * Durability: an acknowledged `update` is accepted and broadcast, not durable —
 * it lives only in the room's memory until its flush (lost if the room is
 * evicted first). `flush` is the durable acknowledgement: it answers after the
 * values are written to SQLite, with the seq of that write.
 */
import { TRPCError } from "@trpc/server";
import { on } from "node:events";
import { debouncedKeyInput, debouncedWatchInput, flushDebouncedInput, updateDebouncedInput } from "../debounce/debounced-inputs";
import { DEBOUNCED_EVENT, type DebouncedEvent } from "../debounce/debounced-writer";
import { readerProcedure, router, writerProcedure } from "./init";
import { committed } from "./live-procedures";

export const debouncedRouter = router({
  /**
   * Accepts a value for `key`: pushed to watchers now, written to SQLite within
   * the key's interval (`flushBy`). The answer means accepted and broadcast,
   * not durable: call `flush` when the value must survive the room.
   * A full buffer answers TOO_MANY_REQUESTS (`DebouncedWriteError`, mapped in init.ts).
   */
  update: writerProcedure
    .input(updateDebouncedInput)
    .mutation(({ ctx, input }) => ctx.debounced.update(input.key, input.value, ctx.identity.sub, input.intervalMs)),

  /**
   * Flush and wait: writes pending values now (one key, or all when `key` is
   * omitted) in one SQLite transaction of this call's event; the answer leaves
   * the room only once that write is durable (the output gate holds it). Answers
   * `{ flushed, keys, seq }`: `seq` is the room's seq after the write (pass it
   * to `sync.replicated` to wait for the D1 replica too). Values already written
   * count as flushed nothing; the seq still covers them.
   */
  flush: writerProcedure.input(flushDebouncedInput).mutation(({ ctx, input }) => {
    try {
      const keys = ctx.debounced.flush(input?.key === undefined ? {} : { keys: [input.key] });
      return committed(ctx, { flushed: keys.length, keys });
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
