/** Tokens, the project's room client and the stock tRPC client, for tests inside workerd. */
import { createTRPCClient, createWSClient, wsLink } from "@trpc/client";
import { env, SELF } from "cloudflare:test";
import superjson from "superjson";
import type { Grant, Role } from "../../src/protocol/identity";
import { signRoomToken } from "../../src/auth/tokens";
import { closeRoomClient, createRoomClient, type RoomClient } from "../../src/client";
import type { AppRouter } from "../../src/app";
import { WorkerWebSocket } from "./worker-socket";

let counter = 0;
/** A room name no other test in the file uses (storage is shared within a file). */
export function uniqueRoom(prefix = "room"): string {
  counter += 1;
  return `${prefix}-${counter}-${crypto.randomUUID().slice(0, 8)}`;
}

export function tokenFor(room: string, role: Role = "writer", sub = "alice", ttlSeconds = 3600, grants?: Grant[]): Promise<string> {
  return signRoomToken({ sub, room, role, ttlSeconds, ...(grants ? { grants } : {}) }, env.AUTH_SECRET);
}

const open: RoomClient<AppRouter>[] = [];
const stock: { close(): Promise<void> }[] = [];

/** A `createRoomClient` client of `room`, closed after each test via `closeClients`. */
export async function clientFor(
  room: string,
  role: Role = "writer",
  sub = "alice",
  extra: { connectionParams?: Record<string, string>; grants?: Grant[] } = {},
): Promise<RoomClient<AppRouter>> {
  const { grants, ...options } = extra;
  const token = await tokenFor(room, role, sub, 3600, grants);
  const client = createRoomClient<AppRouter>({
    url: "http://example.com",
    room,
    token,
    WebSocket: WorkerWebSocket as unknown as typeof WebSocket,
    fetch: (input, init) => SELF.fetch(input, init),
    ...options,
  });
  open.push(client);
  return client;
}

/**
 * The unmodified stock client (`createWSClient` + `wsLink` from @trpc/client),
 * typed by AppRouter, as a third-party app would use it.
 */
export async function stockClientFor(room: string, role: Role = "writer", sub = "alice"): Promise<RoomClient<AppRouter>> {
  const token = await tokenFor(room, role, sub);
  const wsClient = createWSClient({
    url: `ws://example.com/rooms/${room}/ws?token=${token}`,
    WebSocket: WorkerWebSocket as unknown as typeof WebSocket,
  });
  stock.push(wsClient);
  return createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient, transformer: superjson })] });
}

export async function closeClients(): Promise<void> {
  await Promise.all([...open.splice(0).map((client) => closeRoomClient(client)), ...stock.splice(0).map((client) => client.close())]);
}
