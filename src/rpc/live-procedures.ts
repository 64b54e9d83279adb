/**
 * Procedure factories for live data, so each replicated table gets a change
 * feed and live queries cheaply. Also `committed()`, which stamps a mutation's
 * result with the seq it committed.
 */
import { z } from "zod";
import { changeFeed, liveQuery } from "../live/feeds";
import type { RoomContext } from "./context";
import { readerProcedure } from "./init";

/** A mutation result stamped with the change-log seq that includes its write. */
export type Committed<T> = T & { seq: number };

/** Stamps `value` with the room's current seq (call after the write). */
export function committed<T extends object>(ctx: RoomContext, value: T): Committed<T> {
  return { ...value, seq: ctx.live.log.head() };
}

const feedInput = z.strictObject({ lastEventId: z.string().max(32).nullish() }).optional();

/**
 * `<table>.changes`: every insert, update and delete of `table` as tracked
 * events (id = seq). Resumes gap-free from `lastEventId`, or sends `resync`.
 *
 * @example
 * changes: changesProcedure("tasks", (ctx, id) => ctx.tasks.get(id) ?? null),
 */
export function changesProcedure<Row>(table: string, readRow: (ctx: RoomContext, id: number) => Row | null) {
  return readerProcedure.input(feedInput).subscription(({ ctx, input, signal }) =>
    changeFeed<Row>({
      log: ctx.live.log,
      hub: ctx.live.hub,
      table,
      readRow: (id) => readRow(ctx, id),
      lastEventId: input?.lastEventId,
      signal: signal ?? new AbortController().signal,
    }),
  );
}

/**
 * A live query: `run(ctx, input)` now, and again after each commit touching
 * `tables`. `input` must accept `lastEventId` (set by the client on resume).
 */
export function liveProcedure<TSchema extends z.ZodType<{ lastEventId?: string | null | undefined }>, Result>(
  tables: readonly string[],
  input: TSchema,
  run: (ctx: RoomContext, input: z.output<TSchema>) => Result,
) {
  return readerProcedure.input(input).subscription(({ ctx, input, signal }) => {
    const parsed = input as z.output<TSchema>;
    return liveQuery<Result>({
      log: ctx.live.log,
      hub: ctx.live.hub,
      tables,
      run: () => run(ctx, parsed),
      lastEventId: parsed.lastEventId,
      signal: signal ?? new AbortController().signal,
    });
  });
}
