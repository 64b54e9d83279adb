/**
 * Runs the calls of the router that arrive without a socket: Workers RPC from
 * a service binding (src/service/) and one-shot HTTP calls the Worker forwards
 * (src/http/). Same router, validation and role checks as WebSocket frames.
 * The request and answer shapes are the wire contract (src/protocol/direct-call.ts).
 */
import { getErrorShape, getTRPCErrorFromUnknown, TRPCError, type AnyRouter } from "@trpc/server";
import { parseRoomName, type RoomName } from "../lib/room-name";
import { directCallSchema, type DirectCall, type DirectCallResult, type DirectCallType } from "../protocol/direct-call";
import { rootConfig } from "../rpc/init";
import { callProcedure } from "../rpc/procedures";
import type { MutationLedger } from "../live/mutation-ledger";

/** A parsed direct call: the room name is validated, the input deserialized. */
export interface ParsedDirectCall {
  room: RoomName;
  identity: DirectCall["identity"];
  path: string;
  type: DirectCallType;
  input: unknown;
  /** Who forwarded it (see the contract): HTTP calls are rate-limited. */
  via: "http" | "service";
  /** The caller's mutation id: the mutation runs exactly once per user and id. */
  mutationId: string | undefined;
  /** The input as sent (superjson JSON text, "" for none): a repeat of a mutation id must send the same. */
  rawInput: string;
}

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
    input = parsed.data.input === undefined ? undefined : rootConfig.transformer.input.deserialize(JSON.parse(parsed.data.input));
  } catch {
    return badRequest("input is not superjson-serialized JSON");
  }
  const { identity, path, type, via, mutationId } = parsed.data;
  return { ok: true, call: { room: room.room, identity, path, type, input, via, mutationId, rawInput: parsed.data.input ?? "" } };
}

function badRequest(message: string, code: "BAD_REQUEST" | "METHOD_NOT_SUPPORTED" = "BAD_REQUEST") {
  return { ok: false as const, error: new TRPCError({ code, message }) };
}

/** Runs a parsed call in the room and returns its `DirectCallResult` as JSON text. */
export async function runDirectCall(
  router: AnyRouter,
  ctx: unknown,
  call: ParsedDirectCall,
  mutations: Pick<MutationLedger, "run">,
  onInternalError?: (error: TRPCError, path: string) => void,
): Promise<string> {
  const { path, type, input, mutationId } = call;
  try {
    const run = () => callProcedure(router, { ctx, path, type, input });
    const data =
      type === "mutation" && mutationId !== undefined
        ? await mutations.run({ user: call.identity.sub, id: mutationId, path, input: call.rawInput }, run)
        : await run();
    return JSON.stringify({ ok: true, data: rootConfig.transformer.output.serialize(data) } satisfies DirectCallResult);
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
  call: { path?: string | undefined; type?: DirectCallType | undefined; input?: unknown; ctx?: unknown } = {},
): string {
  const shape = getErrorShape({
    config: rootConfig,
    error,
    type: call.type ?? "unknown",
    path: call.path,
    input: call.input,
    ctx: call.ctx as never,
  });
  return JSON.stringify({ ok: false, error: shape as never } satisfies DirectCallResult);
}
