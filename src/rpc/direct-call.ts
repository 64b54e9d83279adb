/**
 * Calls of the router that arrive without a socket: Workers RPC from a service
 * binding (src/service/) and one-shot HTTP calls the Worker forwards
 * (src/http/). The room runs them with `runDirectCall`, through the same
 * router, validation and role checks as WebSocket frames.
 *
 * Across the Durable Object RPC boundary everything is concrete: the request
 * carries its input as superjson text and the answer is a JSON string of
 * `DirectCallResult`. Errors are values, never rejections.
 */
import { callTRPCProcedure, getErrorShape, getTRPCErrorFromUnknown, TRPCError, type inferRouterError } from "@trpc/server";
import { isObservable } from "@trpc/server/observable";
import type { SuperJSONResult } from "superjson";
import { z } from "zod";
import { identitySchema } from "../auth/identity";
import { MAX_DIRECT_INPUT_CHARS, MAX_PROCEDURE_PATH_CHARS } from "../lib/limits";
import { parseRoomName, type RoomName } from "../lib/room-name";
import type { RoomContext } from "./context";
import { appRouter, type AppRouter } from "./router";

/** The procedure types a direct call may run: a subscription needs a socket to push to. */
export const DIRECT_CALL_TYPES = ["query", "mutation"] as const;
export type DirectCallType = (typeof DIRECT_CALL_TYPES)[number];

const directCallSchema = z.object({
  room: z.string(),
  identity: identitySchema,
  path: z.string().min(1).max(MAX_PROCEDURE_PATH_CHARS),
  type: z.enum(DIRECT_CALL_TYPES),
  /** The input as superjson JSON text (`JSON.stringify(superjson.serialize(input))`); absent for no input. */
  input: z.string().max(MAX_DIRECT_INPUT_CHARS).optional(),
});

/** What a caller sends to the room's `call` method. */
export type DirectCall = z.input<typeof directCallSchema>;

/** The error shape every transport sends (see `formatError` in init.ts). */
export type DirectCallErrorShape = inferRouterError<AppRouter>;

/** The answer of a direct call, as JSON text: data serialized with superjson, or the tRPC error shape. */
export type DirectCallResult = { ok: true; data: SuperJSONResult } | { ok: false; error: DirectCallErrorShape };

/** A parsed direct call: the room name is validated, the input deserialized. */
export interface ParsedDirectCall {
  room: RoomName;
  identity: DirectCall["identity"];
  path: string;
  type: DirectCallType;
  input: unknown;
}

const config = appRouter._def._config;

/** The one parse function of the direct-call channel. Never throws: a bad request becomes a BAD_REQUEST error. */
export function parseDirectCall(raw: unknown): { ok: true; call: ParsedDirectCall } | { ok: false; error: TRPCError } {
  if (typeof raw === "object" && raw !== null && (raw as { type?: unknown }).type === "subscription") {
    return badRequest("subscriptions need a WebSocket: subscribe through the room's /ws route (createRoomClient)", "METHOD_NOT_SUPPORTED");
  }
  const parsed = directCallSchema.safeParse(raw);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => `${issue.path.join(".") || "request"}: ${issue.message}`).join("; ");
    return badRequest(`malformed call: ${fields}`);
  }
  const room = parseRoomName(parsed.data.room);
  if (!room.ok) return badRequest(room.message);
  let input: unknown;
  try {
    input = parsed.data.input === undefined ? undefined : config.transformer.input.deserialize(JSON.parse(parsed.data.input));
  } catch {
    return badRequest("input is not superjson-serialized JSON");
  }
  const { identity, path, type } = parsed.data;
  return { ok: true, call: { room: room.room, identity, path, type, input } };
}

function badRequest(message: string, code: "BAD_REQUEST" | "METHOD_NOT_SUPPORTED" = "BAD_REQUEST") {
  return { ok: false as const, error: new TRPCError({ code, message }) };
}

/** Runs a parsed call in the room and returns its `DirectCallResult` as JSON text. */
export async function runDirectCall(
  ctx: RoomContext,
  call: ParsedDirectCall,
  onInternalError?: (error: TRPCError, path: string) => void,
): Promise<string> {
  const { path, type, input } = call;
  try {
    const data = await callTRPCProcedure({
      router: appRouter,
      path,
      getRawInput: async () => input,
      ctx,
      type,
      signal: undefined,
      batchIndex: 0,
    });
    if (isObservable(data) || (typeof data === "object" && data !== null && Symbol.asyncIterator in data)) {
      throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `${type} "${path}" returned a stream` });
    }
    return JSON.stringify({ ok: true, data: config.transformer.output.serialize(data) } satisfies DirectCallResult);
  } catch (cause) {
    const error = getTRPCErrorFromUnknown(cause);
    if (error.code === "INTERNAL_SERVER_ERROR") onInternalError?.(error, path);
    return errorResult(error, { path, type, input, ctx });
  }
}

/**
 * A failed call's `DirectCallResult` as JSON text, in the router's error shape.
 * For refusals made before a call reaches the router (a bad request, a service policy).
 */
export function errorResult(
  error: TRPCError,
  call: { path?: string | undefined; type?: DirectCallType | undefined; input?: unknown; ctx?: RoomContext | undefined } = {},
): string {
  const shape = getErrorShape({ config, error, type: call.type ?? "unknown", path: call.path, input: call.input, ctx: call.ctx });
  return JSON.stringify({ ok: false, error: shape } satisfies DirectCallResult);
}
