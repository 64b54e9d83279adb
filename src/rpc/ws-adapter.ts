/**
 * The tRPC v11 WebSocket protocol over the Durable Object Hibernation API, so
 * the stock `@trpc/client` wsLink talks to a room unmodified. The room calls
 * `message` from webSocketMessage and `close` from webSocketClose; everything
 * about a socket that must survive hibernation comes from `session(ws)`.
 *
 * Every request of one frame runs in the same event, so a batched frame of
 * mutations shares one storage commit.
 */
import {
  callTRPCProcedure,
  getErrorShape,
  getTRPCErrorFromUnknown,
  transformTRPCResponse,
  TRPCError,
  type AnyRouter,
  type inferRouterContext,
} from "@trpc/server";
import { isObservable, observableToAsyncIterable } from "@trpc/server/observable";
import { parseTRPCMessage, type TRPCResponseMessage } from "@trpc/server/rpc";
import { isTrackedEnvelope } from "@trpc/server";
import { MAX_BATCH_SIZE, MAX_CONNECTION_PARAMS_BYTES, MAX_FRAME_BYTES, MAX_SUBSCRIPTIONS_PER_SOCKET } from "../lib/limits";
import { CLOSE_CODES } from "../protocol/close-codes";

type RequestId = number | string;

/** What the adapter needs to know about a socket; the room keeps it in the attachment. */
export interface SocketSession<TContext> {
  /** Builds the procedure context for calls on this socket. */
  context: TContext;
  /** True until the client's `connectionParams` frame arrives (`?connectionParams=1`). */
  awaitingConnectionParams: boolean;
  /** When the socket's credential expires (ms since the epoch). */
  expiresAt: number;
}

export interface WsAdapterOptions<TRouter extends AnyRouter> {
  router: TRouter;
  /** Reads the socket's session; null when the attachment is unusable (the socket is then told to reconnect). */
  session(ws: WebSocket): SocketSession<inferRouterContext<TRouter>> | null;
  /** Stores `connectionParams` sent by the client (informational; never changes identity). */
  saveConnectionParams(ws: WebSocket, params: Record<string, string> | null): void;
  /** Called for errors worth logging (not for ordinary client errors). */
  onInternalError?(error: TRPCError, path: string | undefined): void;
}

/** Per-socket live subscriptions. In memory: they end when the room hibernates. */
type Subscriptions = Map<RequestId, AbortController>;

export function createWsAdapter<TRouter extends AnyRouter>(options: WsAdapterOptions<TRouter>) {
  const { router } = options;
  const config = router._def._config;
  const live = new WeakMap<WebSocket, Subscriptions>();
  const encoder = new TextEncoder();
  // A hand-written frame may omit `input` for procedures that take none.
  const transformer = {
    ...config.transformer,
    input: {
      serialize: config.transformer.input.serialize,
      deserialize: (value: unknown) => (value === undefined ? undefined : config.transformer.input.deserialize(value)),
    },
  };

  function send(ws: WebSocket, message: TRPCResponseMessage | { id: null; method: "reconnect" }): void {
    try {
      ws.send(JSON.stringify("method" in message ? message : transformTRPCResponse(config, message)));
    } catch {
      // The socket closed under us; its close handler releases everything.
    }
  }

  function sendError(
    ws: WebSocket,
    id: RequestId | null,
    cause: unknown,
    call: { path?: string; type?: "query" | "mutation" | "subscription"; input?: unknown; ctx?: unknown } = {},
  ): void {
    const error = getTRPCErrorFromUnknown(cause);
    if (error.code === "INTERNAL_SERVER_ERROR") options.onInternalError?.(error, call.path);
    const shape = getErrorShape({
      config,
      error,
      type: call.type ?? "unknown",
      path: call.path,
      input: call.input,
      ctx: call.ctx,
    });
    send(ws, { id, error: shape });
  }

  function subscriptionsOf(ws: WebSocket): Subscriptions {
    let subscriptions = live.get(ws);
    if (!subscriptions) live.set(ws, (subscriptions = new Map()));
    return subscriptions;
  }

  async function handleRequest(ws: WebSocket, raw: unknown, batchIndex: number, ctx: inferRouterContext<TRouter>): Promise<void> {
    let message;
    try {
      message = parseTRPCMessage(raw, transformer);
    } catch (cause) {
      sendError(ws, idOf(raw), new TRPCError({ code: "BAD_REQUEST", message: `malformed request: ${messageOf(cause)}` }));
      return;
    }
    const { id } = message;
    if (id === null) {
      sendError(ws, null, new TRPCError({ code: "BAD_REQUEST", message: "`id` is required" }));
      return;
    }
    if (message.method === "subscription.stop") {
      live.get(ws)?.get(id)?.abort();
      return;
    }
    const { path, lastEventId } = message.params;
    const type = message.method;
    let input = message.params.input;
    if (lastEventId !== undefined) {
      input = isPlainObject(input) ? { ...input, lastEventId } : (input ?? { lastEventId });
    }
    const call = { path, type, input, ctx };

    const subscriptions = subscriptionsOf(ws);
    if (type === "subscription") {
      if (subscriptions.has(id)) {
        sendError(ws, id, new TRPCError({ code: "BAD_REQUEST", message: `duplicate subscription id ${id}` }), call);
        return;
      }
      if (subscriptions.size >= MAX_SUBSCRIPTIONS_PER_SOCKET) {
        sendError(
          ws,
          id,
          new TRPCError({
            code: "TOO_MANY_REQUESTS",
            message: `a socket may hold at most ${MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions`,
          }),
          call,
        );
        return;
      }
    }

    const abort = new AbortController();
    if (type === "subscription") subscriptions.set(id, abort);
    let result: unknown;
    try {
      result = await callTRPCProcedure({ router, path, getRawInput: async () => input, ctx, type, signal: abort.signal, batchIndex });
    } catch (cause) {
      subscriptions.delete(id);
      sendError(ws, id, cause, call);
      return;
    }
    const iterable = isAsyncIterable(result) || isObservable(result);
    if (type !== "subscription") {
      if (iterable) {
        sendError(ws, id, new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `${type} "${path}" returned a stream` }), call);
      } else {
        send(ws, { id, result: { type: "data", data: result } });
      }
      return;
    }
    if (!iterable) {
      subscriptions.delete(id);
      sendError(ws, id, new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `subscription "${path}" returned no stream` }), call);
      return;
    }
    const stream = isObservable(result) ? observableToAsyncIterable(result, abort.signal) : (result as AsyncIterable<unknown>);
    send(ws, { id, result: { type: "started" } });
    // Detached on purpose: a subscription outlives the frame that started it.
    void pump(ws, id, stream, abort, subscriptions, call);
  }

  async function pump(
    ws: WebSocket,
    id: RequestId,
    stream: AsyncIterable<unknown>,
    abort: AbortController,
    subscriptions: Subscriptions,
    call: Parameters<typeof sendError>[3],
  ): Promise<void> {
    const iterator = stream[Symbol.asyncIterator]();
    try {
      while (true) {
        const next = await nextOrAbort(iterator, abort.signal);
        if (next === "abort" || next.done) break;
        const value = next.value;
        if (isTrackedEnvelope(value)) {
          const [eventId, data] = value;
          send(ws, { id, result: { type: "data", id: eventId, data: { id: eventId, data } } });
        } else {
          send(ws, { id, result: { type: "data", data: value } });
        }
      }
    } catch (cause) {
      if (!abort.signal.aborted) sendError(ws, id, cause, call);
    } finally {
      subscriptions.delete(id);
      abort.abort();
      await iterator.return?.().catch(() => undefined);
      if (ws.readyState === WebSocket.OPEN) send(ws, { id, result: { type: "stopped" } });
    }
  }

  return {
    /** Handles one incoming frame. Never throws: every failure becomes an error frame or a close. */
    async message(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
      if (typeof data !== "string") {
        sendError(
          ws,
          null,
          new TRPCError({ code: "UNSUPPORTED_MEDIA_TYPE", message: "binary frames are not supported; send JSON text frames" }),
        );
        return;
      }
      // Length in UTF-16 units ≤ UTF-8 bytes ≤ 3× units: only encode when it could matter.
      if (data.length * 3 > MAX_FRAME_BYTES && encoder.encode(data).byteLength > MAX_FRAME_BYTES) {
        ws.close(CLOSE_CODES.frameTooLarge, `frame exceeds ${MAX_FRAME_BYTES} bytes`);
        return;
      }
      const session = options.session(ws);
      if (!session) {
        send(ws, { id: null, method: "reconnect" });
        ws.close(CLOSE_CODES.sessionInvalid, "session unreadable; reconnect");
        return;
      }
      if (session.expiresAt <= Date.now()) {
        ws.close(CLOSE_CODES.tokenExpired, "token expired; reconnect with a fresh token");
        return;
      }

      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        sendError(ws, null, new TRPCError({ code: "PARSE_ERROR", message: "frame is not valid JSON" }));
        return;
      }

      if (isPlainObject(parsed) && parsed["method"] === "connectionParams") {
        const params = parseConnectionParams(parsed["data"]);
        if (!params.ok) {
          sendError(ws, null, new TRPCError({ code: "BAD_REQUEST", message: params.message }));
          return;
        }
        options.saveConnectionParams(ws, params.value);
        return;
      }
      if (session.awaitingConnectionParams) options.saveConnectionParams(ws, null);

      const requests = Array.isArray(parsed) ? parsed : [parsed];
      if (requests.length === 0 || requests.length > MAX_BATCH_SIZE) {
        const problem = new TRPCError({
          code: "BAD_REQUEST",
          message: `a batch must hold 1 to ${MAX_BATCH_SIZE} requests; this one has ${requests.length}`,
        });
        if (requests.length === 0) sendError(ws, null, problem);
        for (const request of requests) sendError(ws, idOf(request), problem);
        return;
      }
      await Promise.all(requests.map((request, index) => handleRequest(ws, request, index, session.context)));
    },

    /** Releases the socket's subscriptions. Call from webSocketClose and webSocketError. */
    close(ws: WebSocket): void {
      const subscriptions = live.get(ws);
      if (!subscriptions) return;
      for (const abort of subscriptions.values()) abort.abort();
      live.delete(ws);
    },

    /** Number of live subscriptions on a socket (for stats and tests). */
    subscriptionCount(ws: WebSocket): number {
      return live.get(ws)?.size ?? 0;
    },

    /** Tells the client to reconnect (the stock client does so at once). */
    requestReconnect(ws: WebSocket): void {
      send(ws, { id: null, method: "reconnect" });
    },
  };
}

export type WsAdapter = ReturnType<typeof createWsAdapter>;

/** The next value, or "abort" as soon as the signal fires (without leaking listeners). */
function nextOrAbort<T>(iterator: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T> | "abort"> {
  if (signal.aborted) return Promise.resolve("abort");
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve("abort");
    signal.addEventListener("abort", onAbort, { once: true });
    iterator.next().then(
      (result) => {
        signal.removeEventListener("abort", onAbort);
        resolve(result);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

type ParamsResult = { ok: true; value: Record<string, string> | null } | { ok: false; message: string };

/** `connectionParams` must be null or a flat object of strings, within MAX_CONNECTION_PARAMS_BYTES. */
function parseConnectionParams(data: unknown): ParamsResult {
  if (data === null || data === undefined) return { ok: true, value: null };
  if (!isPlainObject(data)) return { ok: false, message: "connectionParams must be an object" };
  const value: Record<string, string> = {};
  for (const [key, item] of Object.entries(data)) {
    if (item === undefined) continue;
    if (typeof item !== "string") return { ok: false, message: `connectionParams.${key} must be a string` };
    value[key] = item;
  }
  if (JSON.stringify(value).length > MAX_CONNECTION_PARAMS_BYTES) {
    return { ok: false, message: `connectionParams exceed ${MAX_CONNECTION_PARAMS_BYTES} bytes` };
  }
  return { ok: true, value };
}

function idOf(raw: unknown): RequestId | null {
  if (!isPlainObject(raw)) return null;
  const id = raw["id"];
  return typeof id === "number" || typeof id === "string" ? id : null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
