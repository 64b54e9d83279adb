/**
 * The room's tRPC HTTP endpoint, `/rooms/<room>/trpc/<path>`: one-shot queries
 * (GET) and mutations (POST) for callers without a WebSocket — curl, cron jobs,
 * server-side renderers — in tRPC's HTTP format, so `httpLink` and
 * `httpBatchLink` work too. Mounted by `createNanotype` (src/server.ts).
 *
 * The token is verified here first, from the Authorization header only (a URL
 * is logged too often to carry one); a refused request never wakes a room.
 * Each call is then forwarded to the room's `call` method (room-call.ts), which
 * validates, checks the role and runs it, unless it is a replica read served in
 * the Worker (served-in-worker.ts). Subscriptions need the WebSocket route.
 * `createTrpcEndpoint(router)` builds the handler for one app's router.
 */
import {
  getErrorShape,
  getTRPCErrorFromUnknown,
  transformTRPCResponse,
  TRPCError,
  type AnyProcedure,
  type AnyRouter,
  type TRPC_ERROR_CODE_KEY,
} from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { BEARER_CHALLENGE, verifyRequest } from "../auth/request-auth";
import type { RoomName } from "../lib/room-name";
import { BOOKMARK_HEADER } from "../protocol/routes";
import { IDEMPOTENCY_KEY_HEADER, parseMutationId } from "../protocol/mutation-id";
import { MAX_BATCH_SIZE, MAX_HTTP_BODY_BYTES } from "../protocol/wire-limits";
import { rootConfig } from "../rpc/init";
import { proceduresOf } from "../rpc/procedures";
import { endpointRouter, forwardingProcedure, type EndpointContext } from "./endpoint-init";
import { callRoom } from "./room-call";
import { servedInWorker } from "./served-in-worker";

/** Longest bookmark accepted (they are short opaque strings). */
const MAX_BOOKMARK_CHARS = 256;

/** The Worker-side stand-in for one room procedure: takes the input as sent (the room validates it) and forwards. */
function forwarded(path: string, type: "query" | "mutation" | "subscription"): AnyProcedure {
  if (type === "subscription") {
    return forwardingProcedure.query(() => {
      throw new TRPCError({
        code: "METHOD_NOT_SUPPORTED",
        message: `"${path}" is a subscription: subscribe over the WebSocket route /rooms/<room>/ws (createRoomClient)`,
      });
    });
  }
  const procedure = forwardingProcedure.input((raw: unknown) => raw);
  return type === "query"
    ? procedure.query(({ ctx, input }) => callRoom(ctx, path, "query", input))
    : procedure.mutation(({ ctx, input }) => callRoom(ctx, path, "mutation", input));
}

/** The HTTP handler of one app's room router. */
export type TrpcEndpoint = (request: Request, env: Env, url: URL, room: RoomName, endpoint: string) => Promise<Response>;

/** Every room procedure of `router` by its full path: forwarded, unless served in the Worker. */
export function createTrpcEndpoint(router: AnyRouter): TrpcEndpoint {
  const inWorker = servedInWorker(router);
  const httpRouter = endpointRouter({
    ...Object.fromEntries(
      [...proceduresOf(router)].filter(([path]) => !(path in inWorker)).map(([path, info]) => [path, forwarded(path, info.type)]),
    ),
    ...inWorker,
  });
  return (request, env, url, room, endpoint) => handleTrpcRequest(httpRouter, request, env, url, room, endpoint);
}

/**
 * Answers one HTTP request to `<endpoint>/<path>` for `room`. `endpoint` is the
 * request's own path prefix (`/rooms/<room as sent>/trpc`).
 */
async function handleTrpcRequest(
  httpRouter: AnyRouter,
  request: Request,
  env: Env,
  url: URL,
  room: RoomName,
  endpoint: string,
): Promise<Response> {
  const auth = await verifyRequest(request, url, env, room, false);
  if (!auth.ok) {
    const code = ({ 401: "UNAUTHORIZED", 403: "FORBIDDEN", 503: "SERVICE_UNAVAILABLE" } as const)[auth.status];
    return refusal(code, auth.message, auth.status === 401 ? BEARER_CHALLENGE : {});
  }
  const bounded = await boundedBody(request, MAX_HTTP_BODY_BYTES);
  if (!bounded) return refusal("PAYLOAD_TOO_LARGE", `request body exceeds ${MAX_HTTP_BODY_BYTES} bytes`);
  const key = idempotencyKey(request, url, endpoint);
  if (!key.ok) return refusal("BAD_REQUEST", key.message);
  const bookmark = request.headers.get(BOOKMARK_HEADER);
  const replica = env.DB.withSession(bookmark && bookmark.length <= MAX_BOOKMARK_CHARS ? bookmark : "first-unconstrained");
  const context: EndpointContext = { env, room, identity: auth.identity, replica, mutationId: key.id };
  const response = await fetchRequestHandler({
    endpoint,
    req: bounded,
    router: httpRouter,
    createContext: () => context,
    maxBatchSize: MAX_BATCH_SIZE,
    onError: ({ error, path }) => {
      if (error.code === "INTERNAL_SERVER_ERROR") console.error(`HTTP call ${path ?? "?"} failed`, error.cause ?? error);
    },
  });
  response.headers.set("cache-control", "no-store");
  const latest = replica.getBookmark();
  if (latest) response.headers.set(BOOKMARK_HEADER, latest);
  return response;
}

/**
 * The request's `Idempotency-Key`: a mutation id for the one call the request
 * makes. A batch of several calls cannot share one, so it is refused.
 */
function idempotencyKey(request: Request, url: URL, endpoint: string): ReturnType<typeof parseMutationId> {
  const header = request.headers.get(IDEMPOTENCY_KEY_HEADER);
  if (header === null) return { ok: true, id: undefined };
  const parsed = parseMutationId(header);
  if (!parsed.ok) return { ok: false, message: `${IDEMPOTENCY_KEY_HEADER}: ${parsed.message.replace(/^mutationId /, "")}` };
  const calls = url.pathname.slice(endpoint.length + 1).split(",").length;
  if (url.searchParams.get("batch") === "1" && calls > 1) {
    return {
      ok: false,
      message: `an ${IDEMPOTENCY_KEY_HEADER} names one mutation; this request batches ${calls} calls — send them one per request`,
    };
  }
  return parsed;
}

/** An error answered before tRPC runs, in tRPC's HTTP error format (what `httpLink` expects). */
function refusal(code: TRPC_ERROR_CODE_KEY, message: string, headers: Record<string, string> = {}): Response {
  const config = rootConfig;
  const error = getTRPCErrorFromUnknown(new TRPCError({ code, message }));
  const shape = getErrorShape({ config, error, type: "unknown", path: undefined, input: undefined, ctx: undefined });
  return new Response(JSON.stringify(transformTRPCResponse(config, { error: shape })), {
    status: getHTTPStatusCodeFromError(error),
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });
}

/** The request with its body read, or null when the body is larger than `max` bytes (checked while reading). */
async function boundedBody(request: Request, max: number): Promise<Request | null> {
  if (!request.body) return request;
  if (Number(request.headers.get("content-length") ?? 0) > max) return null;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return new Request(request, { body: new Blob(chunks) });
}
