/**
 * The room's WebSocket front: the one parse function for incoming frames. It
 * speaks the tRPC v11 WebSocket protocol (so the stock `@trpc/client` wsLink
 * works unmodified) and, on the same socket, the seed's JSON protocol
 * (frames with an `action`, see seed-protocol.ts). The room calls `message`
 * from webSocketMessage, `resume` after waking and `close` on close.
 *
 * Every request of one frame runs in the same event, so a batched frame of
 * mutations shares one storage commit.
 */
import { getErrorShape, getTRPCErrorFromUnknown, isTrackedEnvelope, transformTRPCResponse, TRPCError, type AnyRouter } from "@trpc/server";
import { parseTRPCMessage, type TRPCResponseMessage } from "@trpc/server/rpc";
import { CLOSE_CODES } from "../protocol/close-codes";
import { MAX_BATCH_SIZE, MAX_CONNECTION_PARAMS_BYTES, MAX_FRAME_BYTES, MAX_PUSH_BYTES } from "../protocol/wire-limits";
import { rootConfig } from "../rpc/init";
import { callProcedure } from "../rpc/procedures";
import { handleSeedFrame, isSeedFrame, seedSink, seedUnavailable, type SeedConfig } from "./seed-protocol";
import { createSubscriptions, isPlainObject, type RequestId, type Sink, type StoredSubscription } from "./subscriptions";
import { utf8Bytes } from "../lib/utf8";
import { MAX_OVERSIZE_FRAME_ANSWERS, scanRequestIds } from "./oversize-frame";
import type { RoomLimits } from "../protocol/room-limits";
import { rateLimited, RequestBucket } from "./request-budget";
import type { MutationLedger } from "../live/mutation-ledger";
import { parseMutationId } from "../protocol/mutation-id";

/** What the adapter reads of a socket (the room keeps it in the attachment; reading it is cheap). */
export interface SocketState {
  /** True until the client's `connectionParams` frame arrives (`?connectionParams=1`). */
  awaitingConnectionParams: boolean;
  /** When the socket's credential expires (ms since the epoch). */
  expiresAt: number;
  /** Subscriptions stored in the attachment. */
  subscriptions: readonly StoredSubscription[];
  /** Who the socket belongs to (the token's `sub`), for the per-user subscription cap. */
  owner: string;
}

export interface WsAdapterOptions<TRouter extends AnyRouter> {
  router: TRouter;
  /** Reads the socket's state; null when the attachment is unusable (the socket is then told to reconnect). */
  state(ws: WebSocket): SocketState | null;
  /** The procedure context of calls on this socket (built only when a call runs). */
  context(ws: WebSocket): unknown;
  /**
   * Closes a socket whose token has expired with CLOSE_CODES.tokenExpired and
   * releases it (the room's alarm does the same for idle sockets).
   */
  expire(ws: WebSocket): Promise<void>;
  /** Stores `connectionParams` sent by the client (informational; never changes identity). */
  saveConnectionParams(ws: WebSocket, params: Record<string, string> | null): void;
  /** Stores the socket's subscriptions (they survive hibernation). */
  saveSubscriptions(ws: WebSocket, subscriptions: StoredSubscription[]): void;
  /** The seq a resumed subscription continues from (the room's published seq). */
  resumeEventId(): string;
  /** The app's seed-protocol methods and the tables whose change feeds seed clients may subscribe to. */
  seed: SeedConfig;
  /** The room's limits: the request rate per socket and the subscription caps. */
  limits: RoomLimits;
  /** Runs mutations that carry a mutation id exactly once (`params.mutationId`; seed frames: `mutationId`). */
  mutations: Pick<MutationLedger, "run">;
  /** Why the room cannot serve calls now (every request is answered with it), or null. */
  unavailable?(): TRPCError | null;
  /** Called for errors worth logging (not for ordinary client errors). */
  onInternalError?(error: TRPCError, path: string | undefined): void;
}

export function createWsAdapter<TRouter extends AnyRouter>(options: WsAdapterOptions<TRouter>) {
  const { router } = options;
  const config = rootConfig;
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
    call: { path?: string; type?: "query" | "mutation" | "subscription"; input?: unknown; ctx?: unknown; jsonrpc?: JsonRpc } = {},
  ): void {
    const error = getTRPCErrorFromUnknown(cause);
    if (error.code === "INTERNAL_SERVER_ERROR") options.onInternalError?.(error, call.path);
    const shape = getErrorShape({
      config,
      error,
      type: call.type ?? "unknown",
      path: call.path,
      input: call.input,
      ctx: call.ctx as never,
    });
    send(ws, { id, ...jsonrpcOf(call.jsonrpc), error: shape });
  }

  /**
   * The serialized `data` of a subscription event. Feeds hand the same event
   * object to every subscriber, so it is encoded once and reused for all of them.
   */
  const encoded = new WeakMap<object, { eventId: string | undefined; text: string }>();
  function encode(value: unknown, eventId: string | undefined): string {
    const cacheable = typeof value === "object" && value !== null;
    const hit = cacheable ? encoded.get(value) : undefined;
    if (hit && hit.eventId === eventId) return hit.text;
    const text = JSON.stringify(config.transformer.output.serialize(eventId === undefined ? value : { id: eventId, data: value }));
    if (cacheable) encoded.set(value, { eventId, text });
    return text;
  }

  function trpcSink(ws: WebSocket, subscription: StoredSubscription): Sink {
    const { id, path, jsonrpc } = subscription;
    const echo = jsonrpcOf(jsonrpc);
    const head = `{"id":${JSON.stringify(id)},${jsonrpc ? `"jsonrpc":"2.0",` : ""}"result":{"type":"data"`;
    return {
      started: () => send(ws, { id, ...echo, result: { type: "started" } }),
      data: (value) => {
        // The frame transformTRPCResponse would build, with the shared encoding spliced in.
        const [eventId, data] = isTrackedEnvelope(value) ? value : [undefined, value];
        const encoded = encode(data, eventId);
        // Thrown into the subscription's pump: it ends with this error instead of pushing.
        if (encoded.length * 3 > MAX_PUSH_BYTES && utf8Bytes(encoded) > MAX_PUSH_BYTES) {
          throw new TRPCError({
            code: "PAYLOAD_TOO_LARGE",
            message: `"${path}" produced an event of ${utf8Bytes(encoded)} bytes, over the ${MAX_PUSH_BYTES}-byte limit per push; subscribe with a narrower input (e.g. a smaller limit)`,
          });
        }
        const frame = `${head}${eventId === undefined ? "" : `,"id":${JSON.stringify(eventId)}`},"data":${encoded}}}`;
        try {
          ws.send(frame);
        } catch {
          // Closed under us; the close handler releases the subscription.
        }
      },
      error: (error) => sendError(ws, id, error, { path, type: "subscription", jsonrpc }),
      stopped: () => send(ws, { id, ...echo, result: { type: "stopped" } }),
    };
  }

  /** True when the socket's token has expired (an unreadable session counts as expired). */
  function expired(ws: WebSocket): boolean {
    const state = options.state(ws);
    return !state || state.expiresAt <= Date.now();
  }

  /**
   * A sink that checks the socket's token before every push: an expired socket
   * gets no more data and is closed (its subscriptions end with it).
   */
  function unlessExpired(ws: WebSocket, sink: Sink): Sink {
    return {
      ...sink,
      data: (value) => {
        if (!expired(ws)) {
          sink.data(value);
          return;
        }
        subscriptions.release(ws);
        options.expire(ws).catch((error: unknown) => console.error("closing a socket whose token expired failed", error));
      },
    };
  }

  const subscriptions = createSubscriptions({
    router,
    deserialize: (kind, input) => (kind === "trpc" ? transformer.input.deserialize(input) : input),
    stored: (ws) => options.state(ws)?.subscriptions ?? [],
    store: options.saveSubscriptions,
    sink: (ws, subscription) => unlessExpired(ws, subscription.kind === "trpc" ? trpcSink(ws, subscription) : seedSink(ws, subscription)),
    resumeEventId: options.resumeEventId,
    owner: (ws) => options.state(ws)?.owner ?? "",
    limits: options.limits,
  });

  /** Each socket's request bucket (in memory: a woken room starts them full). */
  const buckets = new WeakMap<WebSocket, RequestBucket>();
  const tooFast = rateLimited(options.limits, "a connection");
  function bucketOf(ws: WebSocket): RequestBucket {
    let bucket = buckets.get(ws);
    if (!bucket) buckets.set(ws, (bucket = new RequestBucket(options.limits)));
    return bucket;
  }

  async function handleTrpcRequest(ws: WebSocket, raw: unknown, batchIndex: number, ctx: unknown, owner: string): Promise<void> {
    // Echoed in every answer to this request, as tRPC's own adapter does.
    const jsonrpc: JsonRpc = isPlainObject(raw) && raw["jsonrpc"] === "2.0" ? "2.0" : undefined;
    const id = idOf(raw);
    if (id === null) {
      // tRPC's adapter: a request without a usable id cannot be answered, so it is a parse error of the frame.
      sendError(ws, null, new TRPCError({ code: "PARSE_ERROR", message: "`id` is required (a string or a number)" }), { jsonrpc });
      return;
    }
    let message;
    try {
      message = parseTRPCMessage(raw, transformer);
    } catch (cause) {
      sendError(ws, id, new TRPCError({ code: "BAD_REQUEST", message: `malformed request: ${messageOf(cause)}` }), { jsonrpc });
      return;
    }
    if (message.method === "subscription.stop") {
      subscriptions.stop(ws, id);
      return;
    }
    const { path, lastEventId } = message.params;
    const type = message.method;
    if (type === "subscription") {
      const rawInput = isPlainObject(raw) && isPlainObject(raw["params"]) ? raw["params"]["input"] : undefined;
      const subscription: StoredSubscription = { id, path, input: rawInput, kind: "trpc", ...jsonrpcOf(jsonrpc) };
      await subscriptions.start(ws, subscription, ctx, lastEventId, false);
      return;
    }
    const input = message.params.input;
    const params = isPlainObject(raw) && isPlainObject(raw["params"]) ? raw["params"] : {};
    try {
      const run = () => callProcedure(router, { ctx, path, type, input, batchIndex });
      const result = type === "mutation" ? await once(owner, params["mutationId"], path, params["input"], run) : await run();
      send(ws, { id, ...jsonrpcOf(jsonrpc), result: { type: "data", data: result } });
    } catch (cause) {
      sendError(ws, id, cause, { path, type, input, ctx, jsonrpc });
    }
  }

  /**
   * Runs a mutation, exactly once when it carries a mutation id: a repeat of the
   * id by the same user gets the first answer. `rawInput` is the input as sent.
   */
  function once(user: string, rawId: unknown, path: string, rawInput: unknown, run: () => Promise<unknown>): Promise<unknown> {
    const parsed = parseMutationId(rawId);
    if (!parsed.ok) throw new TRPCError({ code: "BAD_REQUEST", message: parsed.message });
    if (parsed.id === undefined) return run();
    return options.mutations.run({ user, id: parsed.id, path, input: JSON.stringify(rawInput) ?? "" }, run);
  }

  /** Answers one tRPC request with `error` without running it. */
  function refuse(ws: WebSocket, request: unknown, error: TRPCError): void {
    sendError(ws, idOf(request), error, { jsonrpc: isPlainObject(request) && request["jsonrpc"] === "2.0" ? "2.0" : undefined });
  }

  /** Answers every request of a parsed frame with `error`, but never more than a batch may hold (then once, with id null). */
  function refuseAll(ws: WebSocket, parsed: unknown, error: TRPCError): void {
    const requests = Array.isArray(parsed) ? parsed : [parsed];
    if (requests.length > MAX_BATCH_SIZE) {
      sendError(ws, null, error);
      return;
    }
    for (const request of requests) {
      if (isSeedFrame(request)) seedUnavailable(ws, request, error);
      else if (isPlainObject(request) && request["method"] !== "subscription.stop" && request["method"] !== "connectionParams") {
        sendError(ws, idOf(request), error, { jsonrpc: request["jsonrpc"] === "2.0" ? "2.0" : undefined });
      } else if (!isPlainObject(request)) sendError(ws, null, error);
    }
  }

  /** `refuseAll` for a text frame not parsed yet (at most MAX_FRAME_BYTES; a non-JSON frame gets no answer). */
  function answerAll(ws: WebSocket, data: string, error: TRPCError): void {
    try {
      refuseAll(ws, JSON.parse(data), error);
    } catch {
      // Not JSON: nothing to answer.
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
        // The frame is not parsed, but its callers deserve a reason: answer the ids
        // a cheap scan finds, then close (the client must not resend it as is).
        const tooLarge = new TRPCError({
          code: "PAYLOAD_TOO_LARGE",
          message: `frame exceeds ${MAX_FRAME_BYTES} bytes; split the calls or shrink their inputs`,
        });
        for (const request of scanRequestIds(data, MAX_OVERSIZE_FRAME_ANSWERS))
          sendError(ws, request.id, tooLarge, { jsonrpc: request.jsonrpc });
        ws.close(CLOSE_CODES.frameTooLarge, `frame exceeds ${MAX_FRAME_BYTES} bytes`);
        return;
      }
      const session = options.state(ws);
      if (!session) {
        send(ws, { id: null, method: "reconnect" });
        ws.close(CLOSE_CODES.sessionInvalid, "session unreadable; reconnect");
        return;
      }
      if (session.expiresAt <= Date.now()) {
        // Every request of the frame is told why before the socket closes.
        answerAll(ws, data, new TRPCError({ code: "UNAUTHORIZED", message: "token expired; reconnect with a fresh token" }));
        await options.expire(ws);
        return;
      }

      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        sendError(ws, null, new TRPCError({ code: "PARSE_ERROR", message: "frame is not valid JSON" }));
        return;
      }

      const unavailable = options.unavailable?.() ?? null;
      if (unavailable) {
        refuseAll(ws, parsed, unavailable);
        return;
      }
      const ctx = options.context(ws);
      if (isSeedFrame(parsed)) {
        if (bucketOf(ws).take(1) === 0) {
          seedUnavailable(ws, parsed, tooFast);
          return;
        }
        await handleSeedFrame(ws, parsed, options.seed, {
          call: (path, type, input, mutationId) => {
            const run = () => callProcedure(router, { ctx, path, type, input });
            return type === "mutation" ? once(session.owner, mutationId, path, input, run) : run();
          },
          subscribe: (subscription) => subscriptions.start(ws, subscription, ctx, undefined, false),
          subscribed: (id) => (options.state(ws)?.subscriptions ?? []).some((subscription) => subscription.id === id),
          unsubscribe: (id) => subscriptions.stop(ws, id),
        });
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
      if (requests.length === 0) {
        sendError(ws, null, new TRPCError({ code: "BAD_REQUEST", message: "a batch must hold at least one request" }));
        return;
      }
      // Every request but a stop takes one token of the socket's bucket; those
      // that find it empty are refused, each with its own answer.
      let allowance = bucketOf(ws).take(requests.filter(counted).length);
      // The stock wsLink sends everything queued in one tick as one frame, however
      // many: any batch the frame size admits runs, MAX_BATCH_SIZE requests at a time
      // (bounded memory in flight), all in this event and so in one storage commit.
      for (let start = 0; start < requests.length; start += MAX_BATCH_SIZE) {
        const chunk = requests.slice(start, start + MAX_BATCH_SIZE);
        await Promise.all(
          chunk.map((request, index) => {
            if (counted(request)) {
              if (allowance === 0) return refuse(ws, request, tooFast);
              allowance -= 1;
            }
            return handleTrpcRequest(ws, request, start + index, ctx, session.owner);
          }),
        );
      }
    },

    /** Re-creates a socket's stored subscriptions after the room woke up. */
    async resume(ws: WebSocket): Promise<void> {
      const state = options.state(ws);
      if (state && state.subscriptions.length > 0) await subscriptions.resume(ws, options.context(ws));
    },

    /** Releases the socket's subscriptions. Call from webSocketClose and webSocketError. */
    close(ws: WebSocket): void {
      subscriptions.release(ws);
    },
  };
}

export type WsAdapter = ReturnType<typeof createWsAdapter>;

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
  if (utf8Bytes(JSON.stringify(value)) > MAX_CONNECTION_PARAMS_BYTES) {
    return { ok: false, message: `connectionParams exceed ${MAX_CONNECTION_PARAMS_BYTES} bytes` };
  }
  return { ok: true, value };
}

/** A request's `jsonrpc` marker, echoed in its answers. */
type JsonRpc = "2.0" | undefined;

/** The `jsonrpc` field of an answer: present only when the request carried it. */
function jsonrpcOf(jsonrpc: JsonRpc): { jsonrpc?: "2.0" } {
  return jsonrpc ? { jsonrpc } : {};
}

/** Whether a request takes a token of the rate limit: all but stopping a subscription. */
function counted(request: unknown): boolean {
  return !(isPlainObject(request) && request["method"] === "subscription.stop");
}

function idOf(raw: unknown): RequestId | null {
  if (!isPlainObject(raw)) return null;
  const id = raw["id"];
  return typeof id === "number" || typeof id === "string" ? id : null;
}

function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
