/**
 * Replica reads: procedures that the Worker serves from the D1 replica (never
 * touching the room) and that any transport reaching the room serves from the
 * room itself. A read may pass `minSeq` — the seq its own write returned — and
 * falls back to the room when the replica is behind or D1 fails. Every answer
 * says where it came from and at which seq.
 */
import { z } from "zod";
import type { RoomScope } from "../replica/room-scope";
import type { RoomContext } from "./context";
import { readerProcedure } from "./init";

/** Where a replica read was served, at which seq, and the data. */
export interface ReplicaResult<T> {
  source: "replica" | "room";
  /** The replica's watermark, or the room's seq, when the read was served. */
  seq: number;
  data: T;
}

/** Set in the Worker: the room's replica rows, and a way to run a read in the room instead. */
export interface ReplicaAccess {
  scope: RoomScope;
  /** Runs the same procedure in the room (the fallback). */
  inRoom(path: string, input: unknown): Promise<unknown>;
}

const minSeq = z.number().int().min(0).optional();

/**
 * A read served from the D1 replica by the Worker, or from the room otherwise.
 * `input` is extended with `minSeq`.
 *
 * @example
 * list: replicaProcedure(listTasksInput, {
 *   replica: (scope, input) => scope.rows(replicaTasks, { … }),
 *   room: (ctx, input) => ctx.tasks.list(input),
 * }),
 */
export function replicaProcedure<TSchema extends z.ZodObject, T>(
  input: TSchema,
  read: {
    replica: (scope: RoomScope, input: z.output<TSchema>) => Promise<T>;
    room: (ctx: RoomContext, input: z.output<TSchema>) => T;
  },
) {
  // `prefault`: a call without input parses `{}`, so field defaults (e.g. `limit`) apply.
  return readerProcedure.input(input.extend({ minSeq }).prefault({})).query(async ({ ctx, input, path }): Promise<ReplicaResult<T>> => {
    const { minSeq: wanted, ...rest } = input as z.output<TSchema> & { minSeq?: number };
    const args = rest as z.output<TSchema>;
    if (ctx.replicaAccess) {
      try {
        const seq = await ctx.replicaAccess.scope.watermark();
        if (wanted === undefined || seq >= wanted)
          return { source: "replica", seq, data: await read.replica(ctx.replicaAccess.scope, args) };
      } catch (error) {
        console.warn(`replica read ${path} failed; reading from the room`, error);
      }
      return (await ctx.replicaAccess.inRoom(path, input)) as ReplicaResult<T>;
    }
    return { source: "room", seq: ctx.live.log.head(), data: read.room(ctx, args) };
  });
}
