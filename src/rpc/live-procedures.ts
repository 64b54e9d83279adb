/**
 * Procedure builders for live data over any replicated table: a change feed
 * (`changesProcedure`) and live queries (`liveProcedure`). Also `committed()`,
 * which stamps a mutation's result with the seq it committed. Public: apps
 * build their feeds and live queries with these (directly or through `crud`).
 */
import { and, asc, eq, gt, inArray, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { z } from "zod";
import type { AnyReplicatedTable } from "../../schema/define";
import { changeFeed, liveQuery } from "../live/feeds";
import { liveWindow, type WindowSource } from "../live/live-window";
import type { RoomContext } from "./context";
import { readerProcedure } from "./init";

/** A mutation result stamped with the change-log seq that includes its write. */
export type Committed<T> = T & { seq: number };

/** Stamps `value` with the room's current seq (call after the write). */
export function committed<T extends object>(ctx: Pick<RoomContext, "live">, value: T): Committed<T> {
  return { ...value, seq: ctx.live.log.head() };
}

/** `lastEventId`: the seq a resuming subscription last saw (set by the tRPC client on reconnect). */
export const lastEventIdInput = z.string().max(32).nullish();

const feedInput = z.strictObject({ lastEventId: lastEventIdInput }).optional();

/** Reads one row of `table` by id in the room (null when it does not exist). */
export function readRowById<T extends AnyReplicatedTable>(
  ctx: Pick<RoomContext, "db">,
  table: T,
  id: number,
): T["room"]["$inferSelect"] | null {
  const idColumn = (table.room as unknown as { id: Parameters<typeof eq>[0] }).id;
  return (ctx.db.select().from(table.room).where(eq(idColumn, id)).get() as T["room"]["$inferSelect"] | undefined) ?? null;
}

/**
 * `<table>.changes`: every insert, update and delete of `table` as tracked
 * events (id = seq), each with the row as it is now. Resumes gap-free from
 * `lastEventId`, or sends `resync`.
 *
 * @example
 * changes: changesProcedure(tasks),
 */
export function changesProcedure<T extends AnyReplicatedTable>(table: T) {
  type Row = T["room"]["$inferSelect"];
  return readerProcedure.input(feedInput).subscription(({ ctx, input, signal }) =>
    changeFeed<Row>({
      log: ctx.live.log,
      hub: ctx.live.hub,
      table: table.name,
      readRow: (id) => readRowById(ctx, table, id),
      lastEventId: input?.lastEventId,
      signal: signal ?? new AbortController().signal,
    }),
  );
}

/** What a live query may read: the room, never the caller (results are shared between callers). */
export type LiveQueryContext = Omit<RoomContext, "identity" | "connectionParams" | "socket">;

/** The caller-free part of a call's context. */
function liveQueryContext({ identity: _identity, connectionParams: _params, socket: _socket, ...room }: RoomContext): LiveQueryContext {
  return room;
}

/**
 * A live query: `run(ctx, input)` now, and again after each commit touching
 * `tables`. `input` must accept `lastEventId` (set by the client on resume).
 * Subscriptions with the same input share one evaluation per commit: `run`
 * sees the room (`LiveQueryContext`) but not who is calling, so one caller's
 * result can never be another's.
 *
 * @example
 * live: liveProcedure([tasks], z.object({ lastEventId: lastEventIdInput }), (ctx) => ctx.db.select().from(tasks.room).all()),
 */
export function liveProcedure<TSchema extends z.ZodType<{ lastEventId?: string | null | undefined }>, Result>(
  tables: readonly (AnyReplicatedTable | string)[],
  input: TSchema,
  run: (ctx: LiveQueryContext, input: z.output<TSchema>) => Result,
) {
  const names = tables.map((table) => (typeof table === "string" ? table : table.name));
  return readerProcedure.input(input).subscription(({ ctx, input, signal, path }) => {
    const parsed = input as z.output<TSchema>;
    // Same procedure, same input (whatever each client's resume point): one evaluation per commit.
    const { lastEventId: _resumeFrom, ...query } = (parsed ?? {}) as Record<string, unknown>;
    return liveQuery<Awaited<Result>>({
      log: ctx.live.log,
      hub: ctx.live.hub,
      tables: names,
      run: () => run(liveQueryContext(ctx), parsed) as Awaited<Result> | Promise<Awaited<Result>>,
      key: `${path}:${JSON.stringify(query)}`,
      lastEventId: parsed.lastEventId,
      signal: signal ?? new AbortController().signal,
    });
  });
}

/** Which window of a table a live window query shows: equality filters (undefined: no filter) and a row limit. */
export interface WindowQuery {
  filters: Readonly<Record<string, unknown>>;
  limit: number;
}

/** Most ids bound in one `IN (...)` (the platform allows 100 parameters per statement, filters included). */
const IDS_PER_READ = 80;

/** Reads the window `query` of `table` in the room: every read applies the filters in SQL. */
function windowSource<T extends AnyReplicatedTable>(
  ctx: Pick<RoomContext, "db">,
  table: T,
  query: WindowQuery,
): WindowSource<T["room"]["$inferSelect"] & { id: number }> {
  type Row = T["room"]["$inferSelect"] & { id: number };
  const columns = table.room as unknown as Record<string, SQLiteColumn>;
  const id = columns["id"]!;
  const filters: SQL[] = [];
  const checks: [string, unknown][] = [];
  for (const [key, value] of Object.entries(query.filters)) {
    if (value === undefined) continue;
    const column = columns[key];
    if (!column) throw new Error(`live window of "${table.name}": no column "${key}" to filter on`);
    filters.push(eq(column, value));
    checks.push([key, value]);
  }
  // Equality on strings, finite numbers and booleans means the same in JavaScript as in SQLite's
  // default (binary) collation; anything else (null, dates, JSON, blobs) is left to SQLite.
  const plain = checks.every(([, value]) => typeof value === "string" || typeof value === "boolean" || Number.isFinite(value));
  const rows = (where: SQL | undefined, limit?: number): Row[] => {
    const select = ctx.db.select().from(table.room).where(where).orderBy(asc(id));
    return (limit === undefined ? select.all() : select.limit(limit).all()) as Row[];
  };
  const byIds = (ids: readonly number[], where: SQL[]): Row[] => {
    const found: Row[] = [];
    for (let start = 0; start < ids.length; start += IDS_PER_READ) {
      found.push(...rows(and(...where, inArray(id, ids.slice(start, start + IDS_PER_READ)))));
    }
    return found;
  };
  return {
    table: table.name,
    limit: query.limit,
    first: (limit) => rows(and(...filters), limit),
    rows: (ids) => byIds(ids, []),
    ...(plain ? { matches: (row: Row) => checks.every(([key, value]) => (row as Record<string, unknown>)[key] === value) } : {}),
    matching: (ids) => byIds(ids, filters),
    after: (after, count) => rows(and(...filters, gt(id, after)), count),
  };
}

/**
 * An incremental live query over one table: the first `limit` rows matching
 * equality filters, by ascending id. It sends the window (`snapshot`), then
 * after each commit only what changed (`diff`: upserted rows and removed ids),
 * re-reading only the rows the commit touched. Subscribers with the same input
 * share every event. `select(input)` names the filters and the limit; `input`
 * must accept `lastEventId`. Events and resuming: docs/live-data.md.
 *
 * @example
 * live: windowProcedure(tasks, z.object({ status: z.string().optional(), limit: z.number().default(100), lastEventId: lastEventIdInput }),
 *   (input) => ({ filters: { status: input.status }, limit: input.limit })),
 */
export function windowProcedure<T extends AnyReplicatedTable, TSchema extends z.ZodType<{ lastEventId?: string | null | undefined }>>(
  table: T,
  input: TSchema,
  select: (input: z.output<TSchema>) => WindowQuery,
) {
  type Row = T["room"]["$inferSelect"] & { id: number };
  return readerProcedure.input(input).subscription(({ ctx, input, signal, path }) => {
    const parsed = input as z.output<TSchema>;
    const query = select(parsed);
    return liveWindow<Row>({
      log: ctx.live.log,
      hub: ctx.live.hub,
      source: windowSource(ctx, table, query),
      // Same procedure and window, whatever each client's resume point: one evaluation per commit.
      key: `${path}:${JSON.stringify(query)}`,
      lastEventId: parsed.lastEventId,
      signal: signal ?? new AbortController().signal,
    });
  });
}
