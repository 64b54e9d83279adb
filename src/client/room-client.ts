/**
 * createRoomClient: a typed tRPC client for one room over a WebSocket, for
 * browsers and Node ≥ 22 (global WebSocket). Imports only types from the server.
 * The stock `@trpc/client` wsLink works against a room too; this client's link
 * sends at once when idle (see room-link.ts).
 */
import { createTRPCClient, type TRPCClient } from "@trpc/client";
import type { AppRouter } from "../rpc/router";
import { RoomConnection, roomLink } from "./room-link";

/** A token, or a function returning a fresh one (called on every connect and reconnect). */
export type TokenSource = string | (() => string | Promise<string>);

export interface RoomClientOptions {
  /** Base URL of the nanotypeDB Worker, e.g. "http://127.0.0.1:8787" or "https://db.example.com". */
  url: string;
  /** Room name, e.g. "team-42/board". */
  room: string;
  /** Room token (JWT). Sent as `?token=` because browsers cannot set WebSocket headers. */
  token: TokenSource;
  /** Informational key/value strings the room can read; they never change identity or role. */
  connectionParams?: Record<string, string>;
  /** WebSocket implementation; defaults to the global one. */
  WebSocket?: typeof WebSocket;
  /** Connection lifecycle callbacks. */
  onOpen?: () => void;
  onClose?: (cause?: { code?: number }) => void;
  /** Keep-alive ping interval (ms); pings are answered without waking the room. Default 30 s. */
  keepAliveMs?: number;
}

/** A typed tRPC client of one room: `client.tasks.create.mutate({ title })`. */
export type RoomClient = TRPCClient<AppRouter>;

const connections = new WeakMap<RoomClient, RoomConnection>();

/** The WebSocket URL of a room: ws(s)://host/rooms/<room>/ws. */
export function roomSocketUrl(baseUrl: string, room: string): string {
  const url = new URL(baseUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = `${url.pathname.replace(/\/$/, "")}/rooms/${room.split("/").map(encodeURIComponent).join("/")}/ws`;
  return url.toString();
}

/**
 * Connects to a room and returns its typed client. Reconnects with backoff;
 * a token function is called again on every reconnect.
 *
 * @example
 * const client = createRoomClient({ url: "http://127.0.0.1:8787", room: "demo", token });
 * const task = await client.tasks.create.mutate({ title: "Write the docs" });
 * await closeRoomClient(client);
 */
export function createRoomClient(options: RoomClientOptions): RoomClient {
  const base = roomSocketUrl(options.url, options.room);
  const connection = new RoomConnection({
    url: async () => {
      const token = typeof options.token === "function" ? await options.token() : options.token;
      const url = new URL(base);
      url.searchParams.set("token", token);
      return url.toString();
    },
    ...(options.connectionParams ? { connectionParams: options.connectionParams } : {}),
    ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
    ...(options.onOpen ? { onOpen: options.onOpen } : {}),
    ...(options.onClose ? { onClose: options.onClose } : {}),
    keepAliveMs: options.keepAliveMs ?? 30_000,
  });
  const client = createTRPCClient<AppRouter>({ links: [roomLink(connection)] });
  connections.set(client, connection);
  return client;
}

/** Drops and reopens a room client's socket (subscriptions resume; in-flight calls fail). */
export function reconnectRoomClient(client: RoomClient): void {
  connections.get(client)?.reconnect();
}

/** Closes a room client's socket; its pending calls are rejected. */
export async function closeRoomClient(client: RoomClient): Promise<void> {
  connections.get(client)?.close();
}
