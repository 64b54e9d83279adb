/**
 * The seed's JSON protocol on the room socket (docs/seed-protocol.md):
 * `{action:"rpc", method, payload?, requestId?}`, `{action:"ping"}`,
 * `{action:"subscribe"|"unsubscribe", table}`. Methods map onto the same tRPC
 * procedures, so validation and roles are the same as for tRPC clients.
 * The frames themselves are the wire contract (src/protocol/seed-frames.ts).
 * Used by ws-adapter.ts.
 */
import { getTRPCErrorFromUnknown, type TRPCError } from "@trpc/server";
import { ZodError } from "zod";
import type { FeedEvent } from "../live/feeds";
import type { PresenceWatchEvent } from "../rpc/presence-router";
import { isSeedFrame, seedFrame, type MemoryUpdate, type RequestId, type SeedDown, type SeedError } from "../protocol/seed-frames";
import type { Sink, StoredSubscription } from "./subscriptions";

export { isSeedFrame };

/** The engine's seed methods → tRPC procedures (an app adds its own through `defineApp`'s `seedMethods`). */
export const ENGINE_SEED_METHODS = {
  setCursor: { path: "presence.setCursor", type: "mutation" },
  getCursors: { path: "presence.getCursors", type: "query" },
  setPresence: { path: "presence.setPresence", type: "mutation" },
  getPresence: { path: "presence.getPresence", type: "query" },
  updateDebounced: { path: "debounced.update", type: "mutation" },
  flushDebounced: { path: "debounced.flush", type: "mutation" },
  getDebounced: { path: "debounced.get", type: "query" },
  executeSQL: { path: "sql.query", type: "query" },
  getSyncStatus: { path: "sync.status", type: "query" },
  forceSyncAll: { path: "sync.forceSyncAll", type: "mutation" },
} as const satisfies Record<string, { path: string; type: "query" | "mutation" }>;

/** A seed method's procedure. */
export interface SeedTarget {
  path: string;
  type: "query" | "mutation";
}

/** What the seed protocol serves in one app: its methods (the engine's and the app's) and the tables seed clients may subscribe to. */
export interface SeedConfig {
  methods: Readonly<Record<string, SeedTarget>>;
  /** Tables with a `<table>.changes` feed. */
  tables: ReadonlySet<string>;
}

/** The seed configuration of an app: the engine's methods plus `appMethods` (which may not redefine them). */
export function seedConfig(appMethods: Readonly<Record<string, SeedTarget>>, tables: Iterable<string>): SeedConfig {
  for (const method of Object.keys(appMethods)) {
    if (Object.hasOwn(ENGINE_SEED_METHODS, method)) throw new Error(`seed method "${method}" is the engine's; pick another name`);
  }
  return { methods: { ...ENGINE_SEED_METHODS, ...appMethods }, tables: new Set(tables) };
}

/** What the seed handler may do in the room. */
export interface SeedApi {
  /** Runs a method; a mutation with a `mutationId` runs exactly once (a repeat gets the first answer). */
  call(path: string, type: "query" | "mutation", input: unknown, mutationId: string | undefined): Promise<unknown>;
  subscribe(subscription: StoredSubscription): Promise<void>;
  /** Whether the socket already holds a subscription with this id. */
  subscribed(id: RequestId): boolean;
  unsubscribe(id: RequestId): boolean;
}

function send(ws: WebSocket, frame: SeedDown): void {
  try {
    ws.send(JSON.stringify(frame));
  } catch {
    // Closed under us.
  }
}

/** Turns any error into the seed protocol's error shape, naming the field of a validation error. */
export function seedError(cause: unknown): SeedError {
  const error: TRPCError = getTRPCErrorFromUnknown(cause);
  if (error.cause instanceof ZodError) {
    const issue = error.cause.issues[0];
    const field = issue?.path.join(".") || undefined;
    return {
      code: "BAD_REQUEST",
      message: issue ? `${field ? `${field}: ` : ""}${issue.message}` : error.message,
      ...(field ? { field } : {}),
    };
  }
  return { code: error.code, message: error.message };
}

const seedId = (tableName: string) => `seed:${tableName}`;

/** Every seed-protocol socket gets cursor and presence pushes through this subscription. */
const MEMORY_SUBSCRIPTION: StoredSubscription = { id: "seed:memory", path: "presence.watch", kind: "seed" };

/** Answers a seed frame when the room cannot serve calls. */
export function seedUnavailable(ws: WebSocket, raw: Record<string, unknown>, error: TRPCError): void {
  const requestId = typeof raw["requestId"] === "string" || typeof raw["requestId"] === "number" ? (raw["requestId"] as RequestId) : null;
  send(ws, { type: "error", requestId, error: { code: error.code, message: error.message } });
}

export async function handleSeedFrame(ws: WebSocket, raw: Record<string, unknown>, config: SeedConfig, api: SeedApi): Promise<void> {
  const echoed = typeof raw["requestId"] === "string" || typeof raw["requestId"] === "number" ? (raw["requestId"] as RequestId) : null;
  const parsed = seedFrame.safeParse(raw);
  if (!parsed.success) {
    const known = ["rpc", "ping", "subscribe", "unsubscribe"].includes(String(raw["action"]));
    const issue = parsed.error.issues[0];
    send(ws, {
      type: "error",
      requestId: echoed,
      error: known
        ? {
            code: "BAD_REQUEST",
            message: `${issue?.path.join(".") ?? "frame"}: ${issue?.message ?? "invalid"}`,
            field: issue?.path.join(".") ?? "",
          }
        : { code: "UNKNOWN_ACTION", message: `unknown action "${String(raw["action"])}"; use rpc, ping, subscribe or unsubscribe` },
    });
    return;
  }
  const frame = parsed.data;
  const id = frame.requestId ?? null;
  // A socket speaking the seed protocol hears every cursor and presence change.
  if (!api.subscribed(MEMORY_SUBSCRIPTION.id)) await api.subscribe(MEMORY_SUBSCRIPTION);
  switch (frame.action) {
    case "ping":
      send(ws, frame.requestId === undefined ? { type: "pong" } : { type: "pong", requestId: frame.requestId });
      return;
    case "rpc": {
      const target = Object.hasOwn(config.methods, frame.method) ? config.methods[frame.method] : undefined;
      if (!target) {
        send(ws, {
          type: "rpc_error",
          method: frame.method,
          requestId: id,
          error: { code: "UNKNOWN_METHOD", message: `unknown method "${frame.method}"; known: ${Object.keys(config.methods).join(", ")}` },
        });
        return;
      }
      try {
        const data = await api.call(target.path, target.type, frame.payload, frame.mutationId);
        send(ws, { type: "rpc_result", method: frame.method, requestId: id, data });
      } catch (cause) {
        send(ws, { type: "rpc_error", method: frame.method, requestId: id, error: seedError(cause) });
      }
      return;
    }
    case "subscribe": {
      if (!config.tables.has(frame.table)) {
        send(ws, {
          type: "rpc_error",
          method: "subscribe",
          requestId: id,
          error: { code: "NOT_FOUND", message: `no table "${frame.table}"; known: ${[...config.tables].join(", ")}`, field: "table" },
        });
        return;
      }
      await api.subscribe({
        id: seedId(frame.table),
        path: `${frame.table}.changes`,
        kind: "seed",
        ...(frame.requestId === undefined ? {} : { requestId: frame.requestId }),
      });
      return;
    }
    case "unsubscribe":
      api.unsubscribe(seedId(frame.table));
      send(ws, { type: "unsubscribed", table: frame.table, requestId: id });
      return;
  }
}

const ACTIONS = { insert: "added", update: "modified", delete: "deleted" } as const;

/** Frames a table's change feed, or cursor and presence changes, for a seed-protocol client. */
export function seedSink(ws: WebSocket, subscription: StoredSubscription): Sink {
  if (subscription.path === MEMORY_SUBSCRIPTION.path) return memorySink(ws);
  const tableName = subscription.path.replace(/\.changes$/, "");
  const requestId = subscription.requestId ?? null;
  return {
    started: () => undefined,
    data: (value) => {
      const [, event] = value as [string, FeedEvent<unknown>];
      if (event.type === "ready") send(ws, { type: "subscribed", table: tableName, seq: event.seq, requestId });
      else if (event.type === "resync") send(ws, { event: "resync", table: tableName, seq: event.seq, reason: event.reason });
      else send(ws, { event: "update", table: tableName, action: ACTIONS[event.op], row: event.row ?? { id: event.id }, seq: event.seq });
    },
    error: (error: TRPCError) => send(ws, { type: "rpc_error", method: "subscribe", requestId, error: seedError(error) }),
    stopped: () => undefined,
  };
}

function memorySink(ws: WebSocket): Sink {
  return {
    started: () => undefined,
    data: (value) => {
      const event = value as PresenceWatchEvent;
      if (event.type !== "change") return;
      const data: MemoryUpdate = { change: event.change, userId: event.userId, updatedAt: event.updatedAt };
      if (event.kind === "cursor") data.position = event.value;
      else data.status = event.value;
      send(ws, { event: "memory_update", type: event.kind === "cursor" ? "cursors" : "presence", data });
    },
    error: (error: TRPCError) => send(ws, { type: "error", requestId: null, error: seedError(error) }),
    stopped: () => undefined,
  };
}
