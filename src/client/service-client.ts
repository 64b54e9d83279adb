/**
 * createServiceClient: a typed tRPC client of one room for another Worker,
 * over a service binding to the RoomService entrypoint (Workers RPC) — the
 * same procedures, validation, roles and errors as createRoomClient, with no
 * socket, so queries and mutations only. Imports only types from the server.
 */
import { createTRPCClient, TRPCClientError, type TRPCClient, type TRPCLink } from "@trpc/client";
import { observable } from "@trpc/server/observable";
import superjson from "superjson";
import type { AnyRouter } from "@trpc/server";
import type { DirectCallResult, DirectCallType } from "../protocol/direct-call";
import type { ServiceIdentity } from "../service/room-service";

export type { ServiceIdentity };

/**
 * A service binding to the RoomService entrypoint. `Service<RoomService>`
 * fits, and so does any object with this `call` (a test double, say).
 */
export interface RoomServiceBinding {
  call(
    room: string,
    identity: ServiceIdentity,
    path: string,
    type: DirectCallType,
    input?: string,
    options?: { mutationId?: string },
  ): Promise<string>;
}

export interface ServiceClientOptions {
  /** Room name, e.g. "team-42/board". */
  room: string;
  /**
   * Who the calls run as: `{ sub, role, name?, grants?, expiresAt? }`. The
   * binding is trusted to assert it — there is no token (see the README).
   */
  identity: ServiceIdentity;
  /**
   * Exactly-once mutations (default true): every mutation carries a mutation id
   * — `<random client id>:<counter>`, or your own key from the call's context,
   * `mutate(input, { context: { mutationId: "invoice-2026-12" } })` — so the room
   * runs it at most once however often it is sent, and a call the binding could
   * not deliver is retried with the same id. `false` sends no ids.
   */
  mutationIds?: boolean;
}

/** A typed tRPC client of one room: `client.tasks.create.mutate({ title })`. */
export type ServiceClient<TRouter extends AnyRouter> = TRPCClient<TRouter>;

/**
 * A typed client of `room` through a service binding. Errors are
 * `TRPCClientError`s with `error.data.code`; Dates survive (superjson).
 *
 * @example
 * // wrangler.toml: [[services]] binding = "NANOTYPE", service = "nanotypedb", entrypoint = "RoomService"
 * const client = createServiceClient<AppRouter>(env.NANOTYPE, { room: "demo", identity: { sub: "billing-cron", role: "writer" } });
 * const task = await client.tasks.create.mutate({ title: "Send invoices" });
 */
export function createServiceClient<TRouter extends AnyRouter>(
  binding: RoomServiceBinding,
  options: ServiceClientOptions,
): ServiceClient<TRouter> {
  return createTRPCClient<TRouter>({ links: [serviceLink<TRouter>(binding, options)] });
}

/** The terminating link: one Workers RPC call per operation, input and output in superjson. */
function serviceLink<TRouter extends AnyRouter>(
  binding: RoomServiceBinding,
  { room, identity, mutationIds = true }: ServiceClientOptions,
): TRPCLink<TRouter> {
  const clientId = crypto.randomUUID();
  let count = 0;
  return () =>
    ({ op }) =>
      observable((observer) => {
        const { path, type, input } = op;
        if (type === "subscription") {
          observer.error(new TRPCClientError(`"${path}" is a subscription: subscriptions need a WebSocket (createRoomClient)`));
          return;
        }
        const serialized = input === undefined ? undefined : JSON.stringify(superjson.serialize(input));
        const chosen = (op.context as { mutationId?: unknown }).mutationId;
        const mutationId =
          type !== "mutation" ? undefined : typeof chosen === "string" ? chosen : mutationIds ? `${clientId}:${++count}` : undefined;
        binding
          .call(room, identity, path, type, serialized, ...(mutationId === undefined ? [] : [{ mutationId }]))
          .then((text) => {
            const result = JSON.parse(text) as DirectCallResult;
            if (!result.ok) {
              observer.error(TRPCClientError.from<TRouter>({ error: result.error }));
              return;
            }
            observer.next({ result: { type: "data", data: superjson.deserialize(result.data) } });
            observer.complete();
          })
          .catch((cause: unknown) =>
            observer.error(TRPCClientError.from<TRouter>(cause instanceof Error ? cause : new Error(String(cause)))),
          );
      });
}
