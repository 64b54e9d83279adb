/**
 * tRPC in the Worker, for the HTTP endpoint (trpc-endpoint.ts): the context of
 * a verified HTTP call, and the room router's transformer, metadata and error
 * shape, so answers look the same whichever side served them. Room errors pass
 * through unchanged (`RoomCallError`). Procedures served in the Worker itself
 * (replica reads) are the room's own, with their own role checks.
 */
import { initTRPC } from "@trpc/server";
import superjson from "superjson";
import type { RoomName } from "../lib/room-name";
import type { DirectCallErrorShape } from "../protocol/direct-call";
import type { Identity } from "../protocol/identity";
import { formatError, type ProcedureMeta } from "../rpc/init";

/** Who is calling which room over HTTP; the token was verified before this was made. */
export interface EndpointContext {
  env: Env;
  room: RoomName;
  identity: Identity;
  /**
   * The D1 replica, as a session: reads in one request, and across requests that
   * carry its bookmark, are sequentially consistent even across D1 read replicas.
   */
  replica: D1DatabaseSession;
  /** The request's `Idempotency-Key` (one call per request): the mutation runs exactly once per user and key. */
  mutationId: string | undefined;
}

/** An error the room answered with, carried through the Worker so its shape reaches the caller unchanged. */
export class RoomCallError extends Error {
  constructor(readonly shape: DirectCallErrorShape) {
    super(shape.message);
    this.name = "RoomCallError";
  }
}

const t = initTRPC
  .context<EndpointContext>()
  .meta<ProcedureMeta>()
  .create({
    transformer: superjson,
    isDev: false,
    errorFormatter: (opts) => (opts.error.cause instanceof RoomCallError ? opts.error.cause.shape : formatError(opts)),
  });

export const endpointRouter = t.router;

/** A procedure with no checks of its own: for calls the room checks (forwarding). */
export const forwardingProcedure = t.procedure;
