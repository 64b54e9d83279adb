/**
 * The room client's WebSocket link: the tRPC v11 WebSocket protocol over a
 * reconnecting socket (partysocket), tuned for latency. A request is sent at
 * once when no call awaits its answer; while calls are in flight, new ones are
 * queued and sent as one batched frame when the answers are in (or after 10 ms
 * at most) — the room runs a frame's requests in one storage commit. The stock
 * wsLink instead waits a timer tick (≥ 1 ms in Node) before every send. Subscriptions resume after a reconnect with their
 * `lastEventId`; every mutation carries a mutation id, and queries and mutations whose answers a
 * disconnect lost are re-sent (same id, original order) until `retryWindowMs` runs out. Used by
 * createRoomClient; imports only types from the server, plus the wire contract (src/protocol/).
 */
import { TRPCClientError, type Operation, type TRPCLink } from "@trpc/client";
import type { AnyRouter } from "@trpc/server";
import { observable, type Observer } from "@trpc/server/observable";
import type { TRPCClientOutgoingMessage, TRPCResponseMessage } from "@trpc/server/rpc";
import ReconnectingWebSocket from "partysocket/ws";
import superjson, { type SuperJSONResult } from "superjson";
import { PING, PONG } from "../protocol/routes";
import { MAX_BATCH_SIZE } from "../protocol/wire-limits";

type Id = number;
/**
 * What an operation's observer receives: results, and for subscriptions the
 * connection's state (`state`: "connecting" while the socket is down,
 * "pending" once it is back), as the stock wsLink reports it to
 * `onConnectionStateChange`.
 */
type Result =
  | { result: { type: "data" | "started" | "stopped"; id?: string; data?: unknown } }
  | { result: { type: "state"; state: "connecting" | "pending"; error: TRPCClientError<AnyRouter> | null } };

interface Pending {
  op: Operation;
  /** Mutations only: sent with every attempt, so the room runs the mutation once however often it is re-sent. */
  mutationId?: string;
  /** Queries and mutations: when the call was made (Date.now()); the retry window counts from here. */
  startedAt: number;
  /** Queries and mutations: true once the request went out (it then awaits its answer). */
  sent?: boolean;
  observer: Observer<Result, TRPCClientError<AnyRouter>>;
  /** Subscriptions only: the last tracked event id seen, sent back on resume. */
  lastEventId?: string;
  /** Subscriptions only: told "connecting" when the socket dropped, and not yet told it is back. */
  disconnected?: boolean;
}

/** Why a connection closed: the WebSocket close code, and a reason when the client knows one. */
export interface ConnectionClose {
  code?: number;
  /** Set when the connect attempt failed before a socket opened (e.g. a refused connect ticket). */
  reason?: string;
}

/**
 * A room client's connection as an app shows it: "connecting" until the first
 * open, "live" while open, "reconnecting" after a drop (calls wait and are
 * re-sent, subscriptions resume), "closed" after `closeRoomClient`.
 */
export interface RoomConnectionState {
  status: "connecting" | "live" | "reconnecting" | "closed";
  /** How many times the socket came back after a drop. */
  reconnects: number;
  /** Why the socket last closed or failed to open, or null. */
  lastClose: ConnectionClose | null;
}

/** The close code reported for a connect attempt that failed before a socket existed (RFC 6455 "abnormal closure"). */
const CONNECT_FAILED_CODE = 1006;

export interface RoomLinkOptions {
  /**
   * The socket URL, or a function returning it (called on every connect, e.g. to
   * refresh a token or fetch a connect ticket). When it rejects, the attempt
   * counts as a failed connect: `onClose` gets `{ code: 1006, reason }` and the
   * link retries with backoff.
   */
  url: string | (() => Promise<string>);
  /** Sent as the first frame of every connection (the server never trusts it for access). */
  connectionParams?: Record<string, string>;
  /** WebSocket implementation; defaults to the global one. */
  WebSocket?: typeof WebSocket;
  /** Keep-alive ping interval; the room answers without waking up. */
  keepAliveMs?: number;
  /** How long to wait for PONG before reconnecting. */
  pongTimeoutMs?: number;
  /**
   * How long a query or mutation may wait for a lost connection to come back
   * (ms, counted from the call). Within it, a call whose answer a disconnect
   * lost is re-sent after reconnect (a mutation with the same mutation id);
   * past it, while still disconnected, the call fails with an "outcome
   * unknown" error. Default DEFAULT_RETRY_WINDOW_MS (60 s).
   */
  retryWindowMs?: number;
  onOpen?: () => void;
  onClose?: (cause?: ConnectionClose) => void;
}

/**
 * Default retry window (ms): long enough to ride out a network switch or a
 * Worker redeploy; short enough that an app is told within a minute that a
 * call's outcome is unknown. The room keeps mutation ids for ≥ 24 h, far longer.
 */
export const DEFAULT_RETRY_WINDOW_MS = 60_000;

/**
 * Longest a request waits in the queue while earlier calls await their answers
 * (ms). Long enough for a busy room's answers to come back, so requests pile up
 * into one frame and one commit (measured: 7.8 per frame, 1.7× the raw-frame
 * write rate); short enough that a slow call never holds the others back long.
 */
const MAX_BATCH_WAIT_MS = 10;

/** Most requests per frame: the room's limit. */
const MAX_REQUESTS_PER_FRAME = MAX_BATCH_SIZE;

/** A reconnecting tRPC-protocol connection to one room. */
export class RoomConnection {
  readonly #socket: ReconnectingWebSocket;
  readonly #pending = new Map<Id, Pending>();
  #outbox: TRPCClientOutgoingMessage[] = [];
  #flushQueued = false;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #nextId = 0;
  /** Queries and mutations sent and not yet answered. */
  #unanswered = 0;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #pongTimer: ReturnType<typeof setTimeout> | undefined;
  /** Why the last URL lookup failed, until a close reports it. */
  #connectFailure: Error | null = null;
  /** Set by close(): a lookup that fails afterwards is not reported. */
  #closed = false;
  /** This connection's mutation ids are `${#clientId}:${n}`: unique per client instance, in call order. */
  readonly #clientId = crypto.randomUUID();
  #mutationCount = 0;
  /** Fails calls whose retry window ran out while disconnected. */
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Why the connection last closed or failed to open, for the error of a call given up on. */
  #lastClose = "never connected";
  #state: RoomConnectionState = { status: "connecting", reconnects: 0, lastClose: null };
  readonly #stateListeners = new Set<(state: RoomConnectionState) => void>();

  constructor(private readonly options: RoomLinkOptions) {
    const url = options.url;
    const params = options.connectionParams;
    const withParams = async () => {
      let base: string;
      try {
        base = typeof url === "string" ? url : await url();
      } catch (error) {
        if (!this.#closed) this.#connectFailure = error instanceof Error ? error : new Error(String(error));
        throw error;
      }
      if (!params) return base;
      const withFlag = new URL(base);
      withFlag.searchParams.set("connectionParams", "1");
      return withFlag.toString();
    };
    this.#socket = new ReconnectingWebSocket(withParams, undefined, {
      ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
      minReconnectionDelay: 100 + Math.random() * 200,
      maxReconnectionDelay: 10_000,
      maxEnqueuedMessages: 0,
    });
    this.#socket.addEventListener("open", () => this.#onOpen());
    this.#socket.addEventListener("close", (event) => this.#onClose(event.code));
    // partysocket reports a failed URL lookup as an error, and as a close only when an earlier socket existed.
    this.#socket.addEventListener("error", () => {
      if (this.#connectFailure) this.#onClose(CONNECT_FAILED_CODE);
    });
    this.#socket.addEventListener("message", (event) => this.#onMessage(event.data));
  }

  /** The connection's state now (a new object after every change). */
  get state(): RoomConnectionState {
    return this.#state;
  }

  /** Calls `listener` with every new state; returns the function that stops it. */
  watch(listener: (state: RoomConnectionState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  #setState(change: Partial<RoomConnectionState>): void {
    this.#state = { ...this.#state, ...change };
    for (const listener of this.#stateListeners) listener(this.#state);
  }

  /** True while the socket is open. */
  get isOpen(): boolean {
    return this.#socket.readyState === ReconnectingWebSocket.OPEN;
  }

  /** Starts an operation; the observer gets tRPC results. Returns a function that cancels it. */
  request(op: Operation, observer: Observer<Result, TRPCClientError<AnyRouter>>): () => void {
    const id = ++this.#nextId;
    const pending: Pending = { op, observer, startedAt: Date.now() };
    if (op.type === "mutation") pending.mutationId = `${this.#clientId}:${++this.#mutationCount}`;
    this.#pending.set(id, pending);
    if (!this.isOpen && op.type !== "subscription") this.#armRetryTimer();
    this.#enqueue(this.#message(id, pending));
    return () => {
      if (!this.#pending.has(id)) return;
      this.#forget(id);
      if (op.type === "subscription") {
        this.#enqueue({ id, method: "subscription.stop" });
        observer.complete();
      }
    };
  }

  /** Drops the socket and reconnects (subscriptions resume; unanswered calls are re-sent). */
  reconnect(): void {
    this.#socket.reconnect();
  }

  /** Closes for good: pending calls are rejected, subscriptions completed. */
  close(): void {
    this.#closed = true;
    this.#connectFailure = null;
    this.#stopKeepAlive();
    clearTimeout(this.#retryTimer);
    this.#socket.close(1000, "client closed");
    this.#failPending((pending) => outcomeUnknown(pending, "the room client was closed"), true);
    this.#setState({ status: "closed" });
  }

  #message(id: Id, pending: Pending): TRPCClientOutgoingMessage {
    const { op } = pending;
    return {
      id,
      method: op.type,
      params: {
        path: op.path,
        input: superjson.serialize(op.input),
        ...(pending.mutationId === undefined ? {} : { mutationId: pending.mutationId }),
        ...(pending.lastEventId === undefined ? {} : { lastEventId: pending.lastEventId }),
      },
    } as TRPCClientOutgoingMessage;
  }

  /**
   * Sends at once when no call awaits an answer. Otherwise queues the request:
   * the queue goes out as one frame (one storage commit in the room) when the
   * last answer arrives, or after MAX_BATCH_WAIT_MS at the latest, so a slow
   * call never holds the others back for long.
   */
  #enqueue(message: TRPCClientOutgoingMessage): void {
    if (!this.isOpen) return; // sent from #onOpen when the socket opens
    if (this.#unanswered === 0 && this.#outbox.length === 0) {
      this.#send([message]);
      return;
    }
    this.#outbox.push(message);
    this.#flushTimer ??= setTimeout(() => this.#flush(), MAX_BATCH_WAIT_MS);
  }

  /** Sends the queue after the events already queued (more answers, the calls they trigger) have run. */
  #flushSoon(): void {
    if (this.#flushQueued || this.#outbox.length === 0) return;
    this.#flushQueued = true;
    afterPendingEvents(() => this.#flush());
  }

  #flush(): void {
    this.#flushQueued = false;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const batch = this.#outbox;
    this.#outbox = [];
    if (!this.isOpen) return;
    for (let start = 0; start < batch.length; start += MAX_REQUESTS_PER_FRAME)
      this.#send(batch.slice(start, start + MAX_REQUESTS_PER_FRAME));
  }

  #send(messages: TRPCClientOutgoingMessage[]): void {
    for (const message of messages) {
      const pending = message.id === null ? undefined : this.#pending.get(Number(message.id));
      if (pending && pending.op.type !== "subscription" && !pending.sent && message.method !== "subscription.stop") {
        pending.sent = true;
        this.#unanswered += 1;
      }
    }
    this.#socket.send(JSON.stringify(messages.length === 1 ? messages[0] : messages));
  }

  #onOpen(): void {
    if (this.options.connectionParams) {
      this.#socket.send(JSON.stringify({ method: "connectionParams", data: this.options.connectionParams }));
    }
    // Everything still pending goes out at once, in call order: subscriptions resume from their
    // last event; queries and mutations whose answers were lost are re-sent (same mutation ids).
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#unanswered = 0;
    for (const pending of this.#pending.values()) pending.sent = false;
    const messages = [...this.#pending.entries()].map(([id, pending]) => this.#message(id, pending));
    for (let start = 0; start < messages.length; start += MAX_REQUESTS_PER_FRAME)
      this.#send(messages.slice(start, start + MAX_REQUESTS_PER_FRAME));
    this.#startKeepAlive();
    for (const pending of this.#pending.values()) {
      if (!pending.disconnected) continue;
      pending.disconnected = false;
      pending.observer.next({ result: { type: "state", state: "pending", error: null } });
    }
    const back = this.#state.status === "reconnecting";
    this.#setState({ status: "live", reconnects: this.#state.reconnects + (back ? 1 : 0) });
    this.options.onOpen?.();
  }

  #onClose(code: number): void {
    this.#stopKeepAlive();
    this.#outbox = [];
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    // Queries and mutations stay pending and are re-sent on reopen, within their retry window.
    if (!this.#closed) this.#armRetryTimer();
    const failure = this.#connectFailure;
    this.#connectFailure = null;
    this.#lastClose = failure ? `could not connect: ${failure.message}` : `WebSocket closed (code ${code})`;
    const cause = failure ? { code: CONNECT_FAILED_CODE, reason: failure.message } : { code };
    if (!this.#closed) {
      this.#tellSubscriptionsDisconnected();
      this.#setState({ status: this.#state.status === "connecting" ? "connecting" : "reconnecting", lastClose: cause });
    }
    this.options.onClose?.(cause);
  }

  /** Tells each subscription, once per outage, that the socket is down and it will resume on reconnect. */
  #tellSubscriptionsDisconnected(): void {
    for (const pending of this.#pending.values()) {
      if (pending.op.type !== "subscription" || pending.disconnected) continue;
      pending.disconnected = true;
      const error = TRPCClientError.from(new Error(`${this.#lastClose}; reconnecting`));
      pending.observer.next({ result: { type: "state", state: "connecting", error } });
    }
  }

  /** Schedules the failing of the first call whose retry window runs out, unless the socket reopens first. */
  #armRetryTimer(): void {
    if (this.#retryTimer !== undefined) return;
    const windowMs = this.options.retryWindowMs ?? DEFAULT_RETRY_WINDOW_MS;
    let first = Infinity;
    for (const pending of this.#pending.values())
      if (pending.op.type !== "subscription") first = Math.min(first, pending.startedAt + windowMs);
    if (first === Infinity) return;
    this.#retryTimer = setTimeout(() => this.#expire(), Math.max(0, first - Date.now()));
  }

  /** Fails the calls whose retry window ran out while disconnected; re-arms for the next one. */
  #expire(): void {
    this.#retryTimer = undefined;
    if (this.isOpen || this.#closed) return;
    const windowMs = this.options.retryWindowMs ?? DEFAULT_RETRY_WINDOW_MS;
    const now = Date.now();
    const reason = `the connection was lost and not restored within ${windowMs / 1000} s (last: ${this.#lastClose})`;
    this.#failPending((pending) => (pending.startedAt + windowMs <= now ? outcomeUnknown(pending, reason) : null), false);
    this.#armRetryTimer();
  }

  #onMessage(raw: unknown): void {
    if (typeof raw !== "string") return;
    if (raw === PONG) {
      clearTimeout(this.#pongTimer);
      return;
    }
    let message: TRPCResponseMessage | { id: null; method: "reconnect" };
    try {
      message = JSON.parse(raw) as typeof message;
    } catch {
      return;
    }
    if ("method" in message) {
      if (message.method === "reconnect") this.reconnect();
      return;
    }
    if (message.id === null) return;
    const id = Number(message.id);
    const pending = this.#pending.get(id);
    if (!pending) return;
    if ("error" in message) {
      const shape = superjson.deserialize(message.error as unknown as SuperJSONResult);
      this.#forget(id);
      pending.observer.error(TRPCClientError.from({ error: shape } as never));
      return;
    }
    const result = message.result;
    if (result.type === "started" || result.type === "stopped") {
      pending.observer.next({ result: { type: result.type } });
      if (result.type === "stopped") {
        this.#forget(id);
        pending.observer.complete();
      }
      return;
    }
    const data = superjson.deserialize(result.data as SuperJSONResult);
    if (pending.op.type === "subscription") {
      if (result.id !== undefined) pending.lastEventId = String(result.id);
      pending.observer.next({ result: { type: "data", ...(result.id === undefined ? {} : { id: String(result.id) }), data } });
      return;
    }
    this.#forget(id);
    pending.observer.next({ result: { type: "data", data } });
    pending.observer.complete();
  }

  #forget(id: Id): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    if (pending.sent) {
      this.#unanswered -= 1;
      if (this.#unanswered === 0) this.#flushSoon();
    }
  }

  /** Fails the queries and mutations `cause` returns an error for; completes subscriptions too when asked. */
  #failPending(cause: (pending: Pending) => Error | null, subscriptionsToo: boolean): void {
    for (const [id, pending] of [...this.#pending]) {
      if (pending.op.type === "subscription") {
        if (!subscriptionsToo) continue;
        this.#forget(id);
        pending.observer.complete();
        continue;
      }
      const error = cause(pending);
      if (!error) continue;
      this.#forget(id);
      pending.observer.error(TRPCClientError.from(error));
    }
  }

  #startKeepAlive(): void {
    const interval = this.options.keepAliveMs ?? 30_000;
    this.#stopKeepAlive();
    this.#pingTimer = setInterval(() => {
      if (!this.isOpen) return;
      this.#socket.send(PING);
      clearTimeout(this.#pongTimer);
      this.#pongTimer = setTimeout(() => this.reconnect(), this.options.pongTimeoutMs ?? 10_000);
    }, interval);
  }

  #stopKeepAlive(): void {
    clearInterval(this.#pingTimer);
    clearTimeout(this.#pongTimer);
  }
}

/** The error of a query or mutation given up on: says whether a mutation may have been applied, and its id. */
function outcomeUnknown(pending: Pending, reason: string): Error {
  if (pending.mutationId === undefined) return new Error(`${reason}; the query was not answered`);
  return new Error(`${reason}; this mutation may or may not have been applied (mutation id ${pending.mutationId})`);
}

/**
 * Runs `task` once the events already queued (e.g. several answers that arrived
 * in one read) have been handled: `setImmediate` where it exists (Node), else a
 * MessageChannel task (browsers; a nested `setTimeout(0)` may wait 4 ms).
 */
const afterPendingEvents: (task: () => void) => void =
  typeof setImmediate === "function"
    ? (task) => void setImmediate(task)
    : (() => {
        const channel = new MessageChannel();
        const tasks: (() => void)[] = [];
        channel.port1.onmessage = () => tasks.shift()?.();
        return (task: () => void) => {
          tasks.push(task);
          channel.port2.postMessage(null);
        };
      })();

/** A tRPC link that sends every operation over `connection`. */
export function roomLink<TRouter extends AnyRouter>(connection: RoomConnection): TRPCLink<TRouter> {
  return () =>
    ({ op }) =>
      observable((observer) => connection.request(op, observer as Observer<Result, TRPCClientError<AnyRouter>>));
}
