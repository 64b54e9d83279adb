/**
 * Replica reads: a read written once, against a `TableReader`, that the Worker
 * serves from the D1 replica over HTTP (never waking the room) and the room
 * serves from its own SQLite on every other transport. A read may pass
 * `minSeq` — the seq its own write returned — and falls back to the room when
 * the replica is behind that seq, behind the code's schema, or D1 fails. Every
 * answer says where it came from and at which seq. Public: apps build theirs
 * with `replicaProcedure` (or get list/get from `crud`).
 */
import { z } from "zod";
import { roomReader, type TableReader } from "../replica/table-reader";
import { replicaReadProcedure } from "./init";

/** Where a replica read was served, at which seq, and the data. */
export interface ReplicaResult<T> {
  source: "replica" | "room";
  /** The replica's watermark, or the room's seq, when the read was served. */
  seq: number;
  data: T;
}

const minSeq = z.number().int().min(0).optional();

/**
 * A read served from the D1 replica by the Worker, or from the room otherwise.
 * `input` is extended with `minSeq`. The reader adds the room scope itself.
 *
 * @example
 * list: replicaProcedure(z.object({ status: z.enum(TASK_STATUSES).optional() }), (reader, input) =>
 *   reader.rows(tasks, { where: (t) => (input.status ? eq(t.status, input.status) : undefined), orderBy: (t) => [asc(t.id)] }),
 * ),
 */
export function replicaProcedure<TSchema extends z.ZodObject, T>(
  input: TSchema,
  read: (reader: TableReader, input: z.output<TSchema>) => Promise<T>,
) {
  // `prefault`: a call without input parses `{}`, so field defaults (e.g. `limit`) apply.
  return replicaReadProcedure
    .input(input.extend({ minSeq }).prefault({}))
    .query(async ({ ctx, input, path }): Promise<ReplicaResult<T>> => {
      const { minSeq: wanted, ...rest } = input as z.output<TSchema> & { minSeq?: number };
      const args = rest as z.output<TSchema>;
      if (ctx.kind === "replica") {
        try {
          const seq = await ctx.replica.watermark();
          if (wanted === undefined || seq >= wanted) return { source: "replica", seq, data: await read(ctx.replica.reader, args) };
        } catch (error) {
          console.warn(`replica read ${path} failed; reading from the room`, error);
        }
        return (await ctx.replica.inRoom(path, input)) as ReplicaResult<T>;
      }
      return { source: "room", seq: ctx.live.log.head(), data: await read(roomReader(ctx.db), args) };
    });
}
