/**
 * The CRUD builder: one replicated table in, validated and role-checked
 * procedures out — `create/get/list/update/delete`, its change feed
 * (`changes`), a live query (`live`) and replica reads (`list`, `get` served
 * from D1). Inputs are derived from the Drizzle table by drizzle-zod and can be
 * overridden per field; columns the server sets (`serverFields`) are never
 * accepted from the client. Public: `crud(notes)` is a whole table's API;
 * hand-written procedures use the same builders (init.ts, live-procedures.ts).
 */
import { TRPCError } from "@trpc/server";
import { and, asc, eq, gt, type SQL } from "drizzle-orm";
import { createInsertSchema, createUpdateSchema, type BuildRefine } from "drizzle-zod";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { z } from "zod";
import type { AnyReplicatedTable } from "../../schema/define";
import type { Role } from "../protocol/identity";
import { DEFAULT_LIVE_LIMIT, DEFAULT_PAGE_SIZE, MAX_LIVE_LIMIT, MAX_PAGE_SIZE } from "../lib/limits";
import { roomReader, type RowOf, type TableReader } from "../replica/table-reader";
import type { RoomContext } from "./context";
import { adminProcedure, readerProcedure, router, writerProcedure } from "./init";
import { changesProcedure, committed, lastEventIdInput, readRowById, windowProcedure } from "./live-procedures";
import { replicaProcedure } from "./replica-procedures";

type Insert<T extends AnyReplicatedTable> = T["room"]["$inferInsert"];
/** The column keys of a replicated table's rows. */
export type ColumnKey<T extends AnyReplicatedTable> = Extract<keyof RowOf<T>, string>;

export interface CrudOptions<
  T extends AnyReplicatedTable,
  TServer extends ColumnKey<T>,
  TFilter extends ColumnKey<T>,
  TContext extends RoomContext = RoomContext,
> {
  /** Columns the server sets (never accepted from clients), e.g. `["created_by", "created_at"]`. */
  serverFields?: readonly TServer[];
  /** Values of server-set columns on create and on update (e.g. who and when). */
  stamp?: {
    create?: (ctx: TContext) => Partial<Insert<T>>;
    update?: (ctx: TContext, current: RowOf<T>) => Partial<Insert<T>>;
  };
  /**
   * Per-field overrides of the derived validation (drizzle-zod refinements).
   * Prefer the function form, `{ title: (s) => s.min(1).max(200) }`: it refines
   * the derived schema and keeps what the column says (nullable, optional on
   * update). A plain zod schema replaces the field's schema as it is.
   */
  fields?: BuildRefine<T["room"]["_"]["columns"], undefined>;
  /** Columns `list` and `live` may filter on by equality. */
  filters?: readonly TFilter[];
  /** The least role that may create, update and delete (default writer). Reads need `reader`. */
  writeRole?: Extract<Role, "writer" | "admin">;
  /** Page size limits of `list` and `live`. */
  limits?: { defaultPage?: number; maxPage?: number; defaultLive?: number; maxLive?: number };
}

/** Input of `list`: keyset pagination by id, optional equality filters. */
export type ListInput<T extends AnyReplicatedTable, TFilter extends ColumnKey<T>> = { limit?: number; cursor?: number | null } & {
  [K in TFilter]?: RowOf<T>[K];
};

/** One page of rows and the cursor of the next (null on the last page). */
export interface Page<Row> {
  items: Row[];
  nextCursor: number | null;
}

const id = z.number({ error: "id must be a number" }).int().positive();
const idInput = z.strictObject({ id });

/**
 * The procedures of one table: spread `procedures` into a router under the
 * table's name and `replica` under `replica.<table>`.
 *
 * @example
 * const notesApi = crud(notes, { serverFields: ["created_by"], stamp: { create: (ctx) => ({ created_by: ctx.identity.sub }) } });
 * router({ notes: notesApi.procedures, replica: { notes: notesApi.replica } });
 */
export function crud<T extends AnyReplicatedTable, TServer extends ColumnKey<T> = never, TFilter extends ColumnKey<T> = never>(
  table: T,
  options: CrudOptions<T, TServer, TFilter> = {},
) {
  type Row = RowOf<T>;
  type CreateInput = Omit<Insert<T>, "id" | TServer>;
  type UpdateInput = { id: number } & Partial<CreateInput>;
  const columns = table.room as unknown as Record<string, SQLiteColumn>;
  const idColumn = columns["id"]!;
  const omit = Object.fromEntries(["id", ...(options.serverFields ?? [])].map((key) => [key, true] as const));
  const refine = (options.fields ?? {}) as never;
  const createInput = createInsertSchema(table.room, refine).omit(omit).strict() as unknown as z.ZodType<CreateInput>;
  const updateFields = createUpdateSchema(table.room, refine).omit(omit).strict();
  const updateInput = updateFields.extend({ id }).refine((input) => Object.keys(input).some((key) => key !== "id"), {
    error: "update needs at least one field besides id",
  }) as unknown as z.ZodType<UpdateInput>;

  const limits = {
    defaultPage: DEFAULT_PAGE_SIZE,
    maxPage: MAX_PAGE_SIZE,
    defaultLive: DEFAULT_LIVE_LIMIT,
    maxLive: MAX_LIVE_LIMIT,
    ...options.limits,
  };
  const filterShape = Object.fromEntries(
    (options.filters ?? []).map((key) => [key, (updateFields.shape as Record<string, z.ZodType>)[key] ?? z.never()]),
  );
  const pageSize = (max: number, fallback: number) =>
    z
      .number()
      .int()
      .min(1)
      .max(max, { error: `limit must be at most ${max}` })
      .default(fallback);
  const listFields = z.strictObject({ ...filterShape, limit: pageSize(limits.maxPage, limits.defaultPage), cursor: id.nullish() });
  const liveInput = z
    .strictObject({ ...filterShape, limit: pageSize(limits.maxLive, limits.defaultLive), lastEventId: lastEventIdInput })
    .prefault({});

  /** The page after `cursor` matching the filters, by ascending id. */
  async function page(reader: TableReader, input: Record<string, unknown>): Promise<Page<Row>> {
    const { limit, cursor } = input as { limit: number; cursor?: number | null };
    const rows = await reader.rows(table, {
      where: (t) => {
        const cols = t as unknown as Record<string, SQLiteColumn>;
        const conditions: SQL[] = [];
        for (const key of options.filters ?? []) if (input[key] !== undefined) conditions.push(eq(cols[key]!, input[key]));
        if (cursor != null) conditions.push(gt(cols["id"]!, cursor));
        return and(...conditions);
      },
      orderBy: (t) => [asc((t as unknown as Record<string, SQLiteColumn>)["id"]!)],
      limit: limit + 1,
    });
    const more = rows.length > limit;
    const items = more ? rows.slice(0, limit) : rows;
    return { items, nextCursor: more ? (items[items.length - 1] as { id: number }).id : null };
  }

  const found = (row: Row | null | undefined, rowId: number): Row => {
    if (!row) throw new TRPCError({ code: "NOT_FOUND", message: `${table.name} ${rowId} does not exist` });
    return row;
  };
  const writer = options.writeRole === "admin" ? adminProcedure : writerProcedure;

  const record = {
    create: writer.input(createInput).mutation(({ ctx, input }) => {
      const values = { ...(input as object), ...options.stamp?.create?.(ctx) } as Insert<T>;
      const row = ctx.db.insert(table.room).values(values).returning().get() as Row;
      return committed(ctx, row);
    }),

    get: readerProcedure.input(idInput).query(({ ctx, input }) => found(readRowById(ctx, table, input.id), input.id)),

    list: readerProcedure.input(listFields.prefault({})).query(({ ctx, input }) => page(roomReader(ctx.db), input)),

    update: writer.input(updateInput).mutation(({ ctx, input }) => {
      const { id: rowId, ...fields } = input as UpdateInput;
      const stamped = options.stamp?.update ? options.stamp.update(ctx, found(readRowById(ctx, table, rowId), rowId)) : {};
      const row = ctx.db
        .update(table.room)
        .set({ ...fields, ...stamped } as unknown as Partial<Insert<T>>)
        .where(eq(idColumn, rowId))
        .returning()
        .get() as Row | undefined;
      return committed(ctx, found(row, rowId));
    }),

    delete: writer.input(idInput).mutation(({ ctx, input }) => {
      const deleted = ctx.db.delete(table.room).where(eq(idColumn, input.id)).returning({ id: idColumn }).get();
      if (!deleted) throw new TRPCError({ code: "NOT_FOUND", message: `${table.name} ${input.id} does not exist` });
      return committed(ctx, { id: input.id, deleted: true as const });
    }),

    /** Every insert, update and delete of the table, resumable by seq (docs/live-data.md). */
    changes: changesProcedure(table),

    /** The first `limit` rows by id (matching the filters): a live window — a snapshot, then a diff per commit that changes it. */
    live: windowProcedure(table, liveInput, (input) => {
      const { limit, lastEventId: _resumeFrom, ...filters } = input as { limit: number; lastEventId?: unknown } & Record<string, unknown>;
      return { filters, limit };
    }),
  };

  const replicaRecord = {
    /** Like `list`; `{ source, seq, data: { items, nextCursor } }`. */
    list: replicaProcedure(listFields, (reader, input) => page(reader, input)),
    /** Like `get`, with `data: null` when the row does not exist. */
    get: replicaProcedure(
      idInput,
      async (reader, input) =>
        (await reader.rows(table, { where: (t) => eq((t as unknown as Record<string, SQLiteColumn>)["id"]!, input.id), limit: 1 }))[0] ??
        null,
    ),
  };

  return {
    /** The table's procedures as a router: put it under the table's name. */
    procedures: router(record),
    /** The same procedures as a plain record, to add your own beside them: `router({ ...notes.record, bySlug })`. */
    record,
    /** The replica reads as a router: put it under `replica.<table>`. */
    replica: router(replicaRecord),
    /** The replica reads as a plain record. */
    replicaRecord,
    /** The derived input schemas, for reuse in hand-written procedures. */
    inputs: { create: createInput, update: updateInput, list: listFields, live: liveInput },
  };
}
