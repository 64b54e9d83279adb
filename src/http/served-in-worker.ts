/**
 * Procedures the HTTP endpoint serves in the Worker instead of forwarding them
 * to the room: the replica reads (procedures with `meta.replica`), answered
 * from D1 without waking the room. They run the very procedures of the room's
 * router (same validation, roles and output) with a `ReplicaContext` whose
 * only data access is the caller's room in the replica (`D1Reader`) and a
 * fallback into the room (`callRoom`).
 */
import type { AnyProcedure, AnyRouter } from "@trpc/server";
import { D1Reader } from "../replica/d1-reader";
import type { ReplicaContext } from "../rpc/context";
import { callProcedure, proceduresOf } from "../rpc/procedures";
import { forwardingProcedure, type EndpointContext } from "./endpoint-init";
import { callRoom } from "./room-call";

/** The context of a replica read in the Worker. */
function replicaContext(ctx: EndpointContext): ReplicaContext {
  const reader = new D1Reader(ctx.replica, ctx.room);
  return {
    kind: "replica",
    room: ctx.room,
    identity: ctx.identity,
    replica: { reader, watermark: () => reader.watermark(), inRoom: (path, input) => callRoom(ctx, path, "query", input) },
  };
}

/** The replica reads of `router`, keyed by full procedure path, as Worker-side procedures. */
export function servedInWorker(router: AnyRouter): Readonly<Record<string, AnyProcedure>> {
  return Object.fromEntries(
    [...proceduresOf(router)]
      .filter(([, info]) => info.meta?.replica === true && info.type === "query")
      .map(([path]) => [
        path,
        forwardingProcedure
          .input((raw: unknown) => raw)
          .query(({ ctx, input, signal }) => callProcedure(router, { ctx: replicaContext(ctx), path, type: "query", input, signal })),
      ]),
  );
}
