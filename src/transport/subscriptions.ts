/**
 * Subscriptions as data. Each one is stored in its socket's attachment as
 * `{ id, path, input, kind }` and its live generator is only a cache: when the
 * room wakes from hibernation, `resume` re-creates every stored subscription
 * from where the room's log stands, so clients notice nothing. Used by the
 * tRPC and seed-protocol adapters; `Sink` decides how events are framed.
 */
import { getTRPCErrorFromUnknown, TRPCError, type AnyRouter } from "@trpc/server";
import { isObservable, observableToAsyncIterable } from "@trpc/server/observable";
import type { RequestId } from "../protocol/seed-frames";
import { subscribeProcedure } from "../rpc/procedures";
import type { RoomLimits } from "../protocol/room-limits";
import { MAX_SUBSCRIPTION_ID_CHARS, MAX_SUBSCRIPTION_INPUT_BYTES, MAX_SUBSCRIPTIONS_PER_SOCKET } from "../protocol/wire-limits";
import { utf8Bytes } from "../lib/utf8";

export type { RequestId };

/** Which wire protocol a subscription's events are framed for. */
export type SubscriptionKind = "trpc" | "seed";

/** A subscription as stored in the socket attachment. `input` is the raw input as received (before deserializing). */
export interface StoredSubscription {
  id: RequestId;
  path: string;
  input?: unknown;
  kind: SubscriptionKind;
  /** The seed protocol's `requestId` of the subscribe frame, echoed in its acknowledgement. */
  requestId?: RequestId | undefined;
  /** Set when the tRPC request carried `jsonrpc: "2.0"`: echoed in every answer, as tRPC's adapter does. */
  jsonrpc?: "2.0" | undefined;
}

/** Where a subscription's events go. */
export interface Sink {
  started(): void;
  data(value: unknown): void;
  error(cause: TRPCError): void;
  stopped(): void;
}

export interface SubscriptionOptions<TRouter extends AnyRouter> {
  router: TRouter;
  /** Deserializes a stored raw input of the given kind (superjson for tRPC, plain JSON for seed). */
  deserialize(kind: SubscriptionKind, input: unknown): unknown;
  /** The socket's stored subscriptions. */
  stored(ws: WebSocket): readonly StoredSubscription[];
  /** Replaces the socket's stored subscriptions (writes the attachment). */
  store(ws: WebSocket, subscriptions: StoredSubscription[]): void;
  /** Builds the sink for a subscription on a socket. */
  sink(ws: WebSocket, subscription: StoredSubscription): Sink;
  /** The event id a subscription resumes from after the room wakes (the current seq). */
  resumeEventId(): string;
  /** Who a socket belongs to (the token's `sub`), for the per-user cap. */
  owner(ws: WebSocket): string;
  /** The caps beyond one socket. */
  limits: Pick<RoomLimits, "subscriptionsPerUser" | "subscriptionsPerRoom">;
}

type Live = Map<RequestId, AbortController>;

export function createSubscriptions<TRouter extends AnyRouter>(options: SubscriptionOptions<TRouter>) {
  const live = new WeakMap<WebSocket, Live>();

  function liveOf(ws: WebSocket): Live {
    let map = live.get(ws);
    if (!map) live.set(ws, (map = new Map()));
    return map;
  }

  /** Running (or starting) subscriptions per user and in the room, for the caps beyond one socket. */
  const perUser = new Map<string, number>();
  let inRoom = 0;
  const owners = new WeakMap<WebSocket, string>();

  function count(ws: WebSocket, delta: 1 | -1): void {
    let owner = owners.get(ws);
    if (owner === undefined) owners.set(ws, (owner = options.owner(ws)));
    const held = (perUser.get(owner) ?? 0) + delta;
    if (held > 0) perUser.set(owner, held);
    else perUser.delete(owner);
    inRoom += delta;
  }

  /** Reserves a subscription's slot (synchronously: see `admissible`). */
  function hold(ws: WebSocket, id: RequestId, abort: AbortController): void {
    const map = liveOf(ws);
    if (!map.has(id)) count(ws, 1);
    map.set(id, abort);
  }

  /** Frees a subscription's slot. */
  function drop(ws: WebSocket, id: RequestId): void {
    if (live.get(ws)?.delete(id)) count(ws, -1);
  }

  function forget(ws: WebSocket, id: RequestId): void {
    drop(ws, id);
    const stored = options.stored(ws);
    if (stored.some((subscription) => subscription.id === id)) {
      options.store(
        ws,
        stored.filter((subscription) => subscription.id !== id),
      );
    }
  }

  /**
   * Checks that one more subscription fits on this socket; returns the problem, if any.
   * Subscriptions still starting count too: `start` reserves its slot in `live`
   * synchronously, so one frame of many subscription requests cannot overrun the cap.
   */
  function admissible(ws: WebSocket, subscription: StoredSubscription): TRPCError | null {
    const stored = options.stored(ws);
    const running = live.get(ws);
    if (stored.some((existing) => existing.id === subscription.id) || running?.has(subscription.id)) {
      return new TRPCError({ code: "BAD_REQUEST", message: `duplicate subscription id ${subscription.id}` });
    }
    const held = new Set<RequestId>([...stored.map((existing) => existing.id), ...(running?.keys() ?? [])]);
    if (held.size >= MAX_SUBSCRIPTIONS_PER_SOCKET) {
      return new TRPCError({
        code: "TOO_MANY_REQUESTS",
        message: `a socket may hold at most ${MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions; stop one first`,
      });
    }
    if ((perUser.get(owners.get(ws) ?? options.owner(ws)) ?? 0) >= options.limits.subscriptionsPerUser) {
      return new TRPCError({
        code: "TOO_MANY_REQUESTS",
        message: `a user may hold at most ${options.limits.subscriptionsPerUser} subscriptions in a room, over all their sockets; stop one first`,
      });
    }
    if (inRoom >= options.limits.subscriptionsPerRoom) {
      return new TRPCError({
        code: "TOO_MANY_REQUESTS",
        message: `this room holds its maximum of ${options.limits.subscriptionsPerRoom} subscriptions; try again later`,
      });
    }
    if (String(subscription.id).length > MAX_SUBSCRIPTION_ID_CHARS) {
      return new TRPCError({ code: "BAD_REQUEST", message: `subscription id is longer than ${MAX_SUBSCRIPTION_ID_CHARS} characters` });
    }
    if (utf8Bytes(JSON.stringify(subscription.input ?? null)) > MAX_SUBSCRIPTION_INPUT_BYTES) {
      return new TRPCError({ code: "PAYLOAD_TOO_LARGE", message: `subscription input exceeds ${MAX_SUBSCRIPTION_INPUT_BYTES} bytes` });
    }
    return null;
  }

  /**
   * Starts (or, with `resumed`, restarts after a wake) a subscription. Errors
   * before the first event go to the sink; a started subscription is stored.
   */
  async function start(
    ws: WebSocket,
    subscription: StoredSubscription,
    ctx: unknown,
    lastEventId: string | undefined,
    resumed: boolean,
  ): Promise<void> {
    const sink = options.sink(ws, subscription);
    if (!resumed) {
      const problem = admissible(ws, subscription);
      if (problem) {
        sink.error(problem);
        return;
      }
    }
    const abort = new AbortController();
    // Reserves the slot before the first await (see `admissible`).
    hold(ws, subscription.id, abort);
    let input: unknown;
    let result: Awaited<ReturnType<typeof subscribeProcedure>>;
    try {
      input = options.deserialize(subscription.kind, subscription.input);
      if (lastEventId !== undefined) {
        input = isPlainObject(input) ? { ...input, lastEventId } : (input ?? { lastEventId });
      }
      result = await subscribeProcedure(options.router, { ctx, path: subscription.path, input, signal: abort.signal });
      // Throws when the socket's attachment would exceed its size limit.
      if (!resumed) options.store(ws, [...options.stored(ws), subscription]);
    } catch (cause) {
      abort.abort();
      forget(ws, subscription.id);
      sink.error(getTRPCErrorFromUnknown(cause));
      return;
    }
    if (abort.signal.aborted) return;
    if (!resumed) sink.started();
    const stream = isObservable(result) ? observableToAsyncIterable(result, abort.signal) : result;
    // Detached on purpose: a subscription outlives the frame that started it.
    void pump(ws, subscription.id, stream, abort, sink);
  }

  async function pump(ws: WebSocket, id: RequestId, stream: AsyncIterable<unknown>, abort: AbortController, sink: Sink): Promise<void> {
    const iterator = stream[Symbol.asyncIterator]();
    let failed = false;
    try {
      // Values go to the sink from `forward`'s callback, never through this
      // frame: a suspended async function keeps what its registers last held, so
      // a value here would stay alive (with its encoding) until the next one.
      while (await forward(iterator, abort.signal, sink)) {
        // Sent; ask for the next.
      }
    } catch (cause) {
      if (!abort.signal.aborted) {
        failed = true;
        sink.error(getTRPCErrorFromUnknown(cause));
      }
    } finally {
      const closedBySocket = abort.signal.aborted && !live.get(ws)?.has(id);
      abort.abort();
      await iterator.return?.().catch(() => undefined);
      if (!closedBySocket) {
        forget(ws, id);
        if (!failed) sink.stopped();
      }
    }
  }

  return {
    start,

    /** Stops one subscription (client's `subscription.stop` or seed `unsubscribe`). Returns false if unknown. */
    stop(ws: WebSocket, id: RequestId): boolean {
      const abort = live.get(ws)?.get(id);
      if (abort) {
        abort.abort();
        return true;
      }
      if (options.stored(ws).some((subscription) => subscription.id === id)) {
        forget(ws, id);
        return true;
      }
      return false;
    },

    /** Re-creates the stored subscriptions of a socket after the room woke up. */
    async resume(ws: WebSocket, ctx: unknown): Promise<void> {
      const eventId = options.resumeEventId();
      await Promise.all(
        options
          .stored(ws)
          .map((subscription) => (live.get(ws)?.has(subscription.id) ? undefined : start(ws, subscription, ctx, eventId, true))),
      );
    },

    /** Ends a closed socket's subscriptions in memory (its attachment goes with it). */
    release(ws: WebSocket): void {
      const map = live.get(ws);
      if (!map) return;
      live.delete(ws);
      for (const abort of map.values()) {
        count(ws, -1);
        abort.abort();
      }
    },
  };
}

export type Subscriptions = ReturnType<typeof createSubscriptions>;

/**
 * Takes the next value and hands it to `sink.data`: true when it was sent,
 * false when the stream ended or the signal fired (at once, without leaking
 * listeners; a value arriving after that is dropped). Rejects with what the
 * iterator or the sink threw.
 */
function forward(iterator: AsyncIterator<unknown>, signal: AbortSignal, sink: Pick<Sink, "data">): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(false);
    signal.addEventListener("abort", onAbort, { once: true });
    iterator.next().then(
      (result) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted || result.done) {
          resolve(false);
          return;
        }
        try {
          sink.data(result.value);
          resolve(true);
        } catch (error) {
          reject(error);
        }
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
