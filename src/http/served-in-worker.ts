/**
 * Procedures the HTTP endpoint serves in the Worker instead of forwarding them
 * to the room: the replica reads (`replica.*`), answered from D1 without waking
 * the room. They run the very procedures of `appRouter` (same validation, roles
 * and output) with a Worker-side context whose only data access is the caller's
 * room in the replica (`RoomScope`) and a fallback into the room (`callRoom`).
 * Keyed by full procedure path; a path listed here is never forwarded.
 */
import { callTRPCProcedure, type AnyProcedure } from "@trpc/server";
import { RoomScope } from "../replica/room-scope";
import type { RoomContext } from "../rpc/context";
import { appRouter } from "../rpc/router";
import { forwardingProcedure, type EndpointContext } from "./endpoint-init";
import { callRoom } from "./room-call";

/** The prefix of procedures served from the replica. */
const REPLICA_PREFIX = "replica.";

/**
 * A RoomContext for a replica read in the Worker: identity, room and replica
 * access are real; anything else a procedure touched would be a bug, so it throws.
 */
function replicaContext(ctx: EndpointContext): RoomContext {
  const known: Partial<RoomContext> = {
    room: ctx.room,
    identity: ctx.identity,
    connectionParams: null,
    socket: null,
    replicaAccess: {
      scope: new RoomScope(ctx.replica, ctx.room),
      inRoom: (path, input) => callRoom(ctx, path, "query", input),
    },
  };
  return new Proxy(known as RoomContext, {
    get(target, property) {
      if (property in target) return target[property as keyof RoomContext];
      throw new Error(`replica procedures may only use the room's replica; "${String(property)}" is not available in the Worker`);
    },
  });
}

const roomProcedures = appRouter._def.procedures as unknown as Record<string, AnyProcedure>;

export const servedInWorker: Readonly<Record<string, AnyProcedure>> = Object.fromEntries(
  Object.entries(roomProcedures)
    .filter(([path, procedure]) => path.startsWith(REPLICA_PREFIX) && procedure._def.type === "query")
    .map(([path]) => [
      path,
      forwardingProcedure
        .input((raw: unknown) => raw)
        .query(({ ctx, input, signal }) =>
          callTRPCProcedure({
            router: appRouter,
            path,
            getRawInput: async () => input,
            ctx: replicaContext(ctx),
            type: "query",
            signal,
            batchIndex: 0,
          }),
        ),
    ]),
);
