/**
 * The direct-call contract: calls of a room's router that arrive without a
 * socket — Workers RPC from a service binding and one-shot HTTP calls the
 * Worker forwards. Across the Durable Object RPC boundary everything is
 * concrete: the request carries its input as superjson text and the answer is
 * a JSON string of `DirectCallResult`. Errors are values, never rejections.
 * Imported by the room's transport (src/transport/direct-call.ts), the Worker
 * and the service client.
 */
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server";
import type { SuperJSONResult } from "superjson";
import { z } from "zod";
import { identitySchema } from "../protocol/identity";
import { mutationIdSchema } from "./mutation-id";
import { MAX_DIRECT_INPUT_CHARS, MAX_PROCEDURE_PATH_CHARS } from "./wire-limits";

/** The procedure types a direct call may run: a subscription needs a socket to push to. */
export const DIRECT_CALL_TYPES = ["query", "mutation"] as const;
export type DirectCallType = (typeof DIRECT_CALL_TYPES)[number];

export const directCallSchema = z.object({
  room: z.string(),
  identity: identitySchema,
  path: z.string().min(1).max(MAX_PROCEDURE_PATH_CHARS),
  type: z.enum(DIRECT_CALL_TYPES),
  /**
   * Who forwards the call: the Worker's HTTP endpoint (rate-limited per user,
   * like a socket) or a service binding (trusted like the token issuer). Default "service".
   */
  via: z.enum(["http", "service"]).default("service"),
  /** The input as superjson JSON text (`JSON.stringify(superjson.serialize(input))`); absent for no input. */
  input: z.string().max(MAX_DIRECT_INPUT_CHARS).optional(),
  /** Runs a mutation exactly once per user: a repeat of the id gets the first answer (HTTP: the `Idempotency-Key` header). */
  mutationId: mutationIdSchema.optional(),
});

/** What a caller sends to the room's `call` method. */
export type DirectCall = z.input<typeof directCallSchema>;

/** The error shape every transport sends: tRPC's, plus `data.issues` for invalid input (src/rpc/init.ts). */
export interface DirectCallErrorShape {
  message: string;
  code: number;
  data: {
    code: TRPC_ERROR_CODE_KEY;
    httpStatus: number;
    path?: string;
    issues: { path: string; message: string; code: string }[] | null;
  };
}

/** The answer of a direct call, as JSON text: data serialized with superjson, or the tRPC error shape. */
export type DirectCallResult = { ok: true; data: SuperJSONResult } | { ok: false; error: DirectCallErrorShape };
