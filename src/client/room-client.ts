/**
 * createRoomClient: a typed tRPC client for one room, for browsers and Node ≥ 22
 * (global WebSocket and fetch). Replica reads (`replica.*`) go over HTTP to the
 * Worker, which serves them from D1; everything else goes over the room's
 * WebSocket (room-link.ts: sends at once when idle), opened with a single-use
 * connect ticket so the token never appears in a URL. Generic over the app's
 * router type (`createRoomClient<AppRouter>(…)`); imports only types from the
 * server, plus the wire contract. The stock `@trpc/client` links work too.
 */
import { createTRPCClient, httpBatchLink, splitLink, type TRPCClient, type TRPCLink } from "@trpc/client";
import type { AnyRouter } from "@trpc/server";
import { observable } from "@trpc/server/observable";
import superjson from "superjson";
import { BOOKMARK_HEADER, REPLICA_PATH_PREFIX, roomHttpUrl, roomSocketUrl, roomTicketUrl } from "../protocol/routes";
import { MAX_BATCH_SIZE } from "../protocol/wire-limits";
import { fetchConnectTicket } from "./connect-ticket";
import { connections, roomConnectionState, watchRoomConnection } from "./connections";
import { RoomConnection, roomLink, type ConnectionClose } from "./room-link";

export { roomConnectionState, roomHttpUrl, roomSocketUrl, roomTicketUrl, watchRoomConnection };

/** A token, or a function returning a fresh one (called on every connect and reconnect). */
export type TokenSource = string | (() => string | Promise<string>);

export interface RoomClientOptions {
  /** Base URL of the nanotypeDB Worker, e.g. "http://127.0.0.1:8787" or "https://db.example.com". */
  url: string;
  /** Room name, e.g. "team-42/board". */
  room: string;
  /**
   * Room token (JWT). Sent as a Bearer header (connect tickets, replica reads),
   * or as `?token=` on the socket URL when `connectWith` is "token".
   */
  token: TokenSource;
  /**
   * How the socket proves who connects. "ticket" (default): before every
   * connect and reconnect, `POST /rooms/<room>/ticket` with the token as a
   * Bearer header, then open `/ws?ticket=…` — a single-use ticket valid for
   * seconds, so request logs never record the token. "token": open
   * `/ws?token=…` directly (one request fewer; the token is in the URL). A
   * failed ticket request counts as a failed connect: `onClose` gets
   * `{ code: 1006, reason }` and the client retries with backoff.
   */
  connectWith?: "ticket" | "token";
  /** Informational key/value strings the room can read; they never change identity or role. */
  connectionParams?: Record<string, string>;
  /** WebSocket implementation; defaults to the global one. */
  WebSocket?: typeof WebSocket;
  /** Connection lifecycle callbacks. */
  onOpen?: () => void;
  onClose?: (cause?: ConnectionClose) => void;
  /** Keep-alive ping interval (ms); pings are answered without waking the room. Default 30 s. */
  keepAliveMs?: number;
  /** fetch implementation for connect tickets and replica reads; defaults to the global one. */
  fetch?: typeof fetch;
  /**
   * How long a query or mutation waits for a lost connection to come back (ms,
   * counted from the call). Every mutation carries a mutation id
   * (`<client id>:<counter>`); a call whose answer a disconnect lost is re-sent
   * after reconnect with the same id, in call order, so the room applies it once
   * and the app sees one result. Past the window, while still disconnected, the
   * call fails with an error saying its outcome is unknown. Default 60 s.
   */
  retryWindowMs?: number;
}

/** A typed tRPC client of one room: `client.tasks.create.mutate({ title })`. */
export type RoomClient<TRouter extends AnyRouter> = TRPCClient<TRouter>;

/** The acknowledgement-level procedure whose answers carry a D1 bookmark. */
const REPLICATED_PATH = "sync.replicated";

/**
 * Connects to a room and returns its typed client. Reconnects with backoff;
 * a token function is called again on every reconnect.
 *
 * @example
 * const client = createRoomClient<AppRouter>({ url: "http://127.0.0.1:8787", room: "demo", token });
 * const task = await client.tasks.create.mutate({ title: "Write the docs" });
 * await closeRoomClient(client);
 */
export function createRoomClient<TRouter extends AnyRouter>(options: RoomClientOptions): RoomClient<TRouter> {
  const base = roomSocketUrl(options.url, options.room);
  const ticketUrl = roomTicketUrl(options.url, options.room);
  const tokenNow = async () => (typeof options.token === "function" ? await options.token() : options.token);
  const baseFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const connection = new RoomConnection({
    url: async () => {
      const url = new URL(base);
      if (options.connectWith === "token") url.searchParams.set("token", await tokenNow());
      else url.searchParams.set("ticket", await fetchConnectTicket(baseFetch, ticketUrl, await tokenNow()));
      return url.toString();
    },
    ...(options.connectionParams ? { connectionParams: options.connectionParams } : {}),
    ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
    ...(options.onOpen ? { onOpen: options.onOpen } : {}),
    ...(options.onClose ? { onClose: options.onClose } : {}),
    keepAliveMs: options.keepAliveMs ?? 30_000,
    ...(options.retryWindowMs === undefined ? {} : { retryWindowMs: options.retryWindowMs }),
  });
  // The newest D1 bookmark seen (replica read answers, `sync.replicated` answers):
  // each replica read is at least as fresh as the last one, and sees every write
  // a `sync.replicated` call confirmed.
  let bookmark: string | null = null;
  const replicaReads = httpBatchLink({
    url: roomHttpUrl(options.url, options.room),
    transformer: superjson,
    // httpBatchLink has no default cap; the endpoint refuses batches over MAX_BATCH_SIZE.
    maxItems: MAX_BATCH_SIZE,
    headers: async () => ({ authorization: `Bearer ${await tokenNow()}`, ...(bookmark ? { [BOOKMARK_HEADER]: bookmark } : {}) }),
    fetch: async (input, init) => {
      const response = await baseFetch(input as RequestInfo, init as RequestInit);
      bookmark = response.headers.get(BOOKMARK_HEADER) ?? bookmark;
      return response;
    },
  });
  const client = createTRPCClient<TRouter>({
    links: [
      adoptReplicatedBookmark((seen) => (bookmark = seen)),
      splitLink({ condition: (op) => op.path.startsWith(REPLICA_PATH_PREFIX), true: replicaReads, false: roomLink(connection) }),
    ],
  });
  connections.set(client, connection);
  return client;
}

/** Passes every bookmark a `sync.replicated` answer carries to `adopt` (the replica link sends it with the next read). */
function adoptReplicatedBookmark<TRouter extends AnyRouter>(adopt: (bookmark: string) => void): TRPCLink<TRouter> {
  return () =>
    ({ op, next }) =>
      observable((observer) =>
        next(op).subscribe({
          next(value) {
            if (op.path === REPLICATED_PATH) {
              const answer = value.result.type === "data" || value.result.type === undefined ? value.result.data : undefined;
              const seen = (answer as { bookmark?: unknown } | undefined)?.bookmark;
              if (typeof seen === "string") adopt(seen);
            }
            observer.next(value);
          },
          error: (error) => observer.error(error),
          complete: () => observer.complete(),
        }),
      );
}

/** Drops and reopens a room client's socket (subscriptions resume; unanswered calls are re-sent, mutations with their ids). */
export function reconnectRoomClient(client: object): void {
  connections.get(client)?.reconnect();
}

/** Closes a room client's socket; its pending calls are rejected (a mutation's error says its outcome is unknown). */
export async function closeRoomClient(client: object): Promise<void> {
  connections.get(client)?.close();
}
