/**
 * RoomService: the named entrypoint other Workers bind to (`[[services]] …
 * entrypoint = "RoomService"`) to call rooms over Workers RPC. `createNanotype`
 * (src/server.ts) returns it; the app's Worker entry exports it (src/worker.ts).
 * Callers use `createServiceClient` (src/client/service-client.ts), which gives
 * them the same typed procedures as a WebSocket client.
 *
 * Trust boundary: a service binding carries no token. Any Worker bound to this
 * entrypoint asserts the identity a call runs as, and the room believes it —
 * roles, grants and the caller's `sub` all come from the caller. Bind only
 * Workers you trust as much as your token issuer; narrow what they may assert
 * with SERVICE_MAX_ROLE and SERVICE_ROOM_PATTERN (service-policy.ts).
 */
import { WorkerEntrypoint } from "cloudflare:workers";
import { TRPCError } from "@trpc/server";
import type { z } from "zod";
import { identitySchema, type Identity } from "../protocol/identity";
import { SERVICE_IDENTITY_TTL_MS } from "../lib/limits";
import { parseRoomName } from "../lib/room-name";
import type { DirectCallType } from "../protocol/direct-call";
import { errorResult } from "../transport/direct-call";
import { parseMutationId } from "../protocol/mutation-id";
import { SERVICE_CALL_ATTEMPTS } from "../lib/limits";
import { loadServicePolicy, readServicePolicyEnv, refuseServiceCall } from "./service-policy";

const serviceIdentitySchema = identitySchema.extend({
  /** Optional for services: defaults to SERVICE_IDENTITY_TTL_MS from now, enough for the one call. */
  expiresAt: identitySchema.shape.expiresAt.optional(),
});

/** The identity a service call runs as: `{ sub, role, name?, grants?, expiresAt? }`. */
export type ServiceIdentity = z.input<typeof serviceIdentitySchema>;

export class RoomService extends WorkerEntrypoint<Env> {
  /**
   * Runs one query or mutation of the router in `room` as `identity`: the same
   * validation, roles and errors as a WebSocket call, and its changes reach
   * the room's live subscribers. `input` is superjson JSON text. Answers a JSON
   * string of `DirectCallResult` (src/protocol/direct-call.ts); never rejects.
   * Prefer `createServiceClient`, which does the serializing and gives types.
   *
   * A mutation with `options.mutationId` runs exactly once per identity `sub`
   * and id: a repeat gets the first answer, so a call that could not reach the
   * room is retried here (SERVICE_CALL_ATTEMPTS in all), and so may the caller.
   */
  async call(
    room: string,
    identity: ServiceIdentity,
    path: string,
    type: DirectCallType,
    input?: string,
    options?: { mutationId?: string },
  ): Promise<string> {
    const call = { path: typeof path === "string" ? path : undefined, type: type === "query" || type === "mutation" ? type : undefined };
    const policy = loadServicePolicy(readServicePolicyEnv(this.env));
    if (!policy.ok) {
      console.error(`RoomService refused a call: ${policy.message}`);
      return errorResult(
        new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `the service is misconfigured: ${policy.message}` }),
        call,
      );
    }
    const name = parseRoomName(typeof room === "string" ? room : "");
    if (!name.ok) return errorResult(new TRPCError({ code: "BAD_REQUEST", message: name.message }), call);
    const asserted = serviceIdentitySchema.safeParse(identity);
    if (!asserted.success) {
      const fields = [...new Set(asserted.error.issues.map((issue) => issue.path.join(".") || "identity"))].join(", ");
      return errorResult(new TRPCError({ code: "BAD_REQUEST", message: `the asserted identity is invalid: ${fields}` }), call);
    }
    const refusal = refuseServiceCall(policy.policy, name.room, asserted.data);
    if (refusal) return errorResult(refusal, call);
    const mutationId = parseMutationId(options?.mutationId);
    if (!mutationId.ok) return errorResult(new TRPCError({ code: "BAD_REQUEST", message: mutationId.message }), call);

    const caller: Identity = { ...asserted.data, expiresAt: asserted.data.expiresAt ?? Date.now() + SERVICE_IDENTITY_TTL_MS };
    const request = {
      room: name.room,
      identity: caller,
      path,
      type,
      ...(input === undefined ? {} : { input }),
      ...(mutationId.id === undefined ? {} : { mutationId: mutationId.id }),
    };
    // Only what cannot run twice by mistake is retried: queries, and mutations with an id.
    const attempts = type === "query" || mutationId.id !== undefined ? SERVICE_CALL_ATTEMPTS : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        // A fresh stub each time: one whose object was reset stays broken.
        return await this.env.ROOMS.get(this.env.ROOMS.idFromName(name.room)).call(request);
      } catch (cause) {
        console.error(`RoomService could not reach room "${name.room}" (attempt ${attempt} of ${attempts})`, cause);
        if (attempt >= attempts) {
          const outcome = type === "mutation" && mutationId.id === undefined ? "; the mutation may or may not have been applied" : "";
          return errorResult(
            new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `the room could not be reached${outcome}; retry the call` }),
            call,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
  }
}
