/** Tokens and stock tRPC clients for tests inside workerd. */
import { env } from "cloudflare:test";
import type { Grant, Role } from "../../src/auth/identity";
import { signRoomToken } from "../../src/auth/tokens";
import { closeRoomClient, createRoomClient, type RoomClient } from "../../src/client";
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

const open: RoomClient[] = [];

/** A stock-wsLink client of `room`, closed after each test via `closeClients`. */
export async function clientFor(
  room: string,
  role: Role = "writer",
  sub = "alice",
  extra: { connectionParams?: Record<string, string>; grants?: Grant[] } = {},
): Promise<RoomClient> {
  const { grants, ...options } = extra;
  const token = await tokenFor(room, role, sub, 3600, grants);
  const client = createRoomClient({
    url: "http://example.com",
    room,
    token,
    WebSocket: WorkerWebSocket as unknown as typeof WebSocket,
    ...options,
  });
  open.push(client);
  return client;
}

export async function closeClients(): Promise<void> {
  await Promise.all(open.splice(0).map((client) => closeRoomClient(client)));
}
