/**
 * The engine's front door for one app: `createNanotype(app)` returns the
 * Worker's fetch handler, the Room Durable Object class and the RoomService
 * entrypoint, ready to export from the app's Worker entry. The fetch handler
 * authenticates callers and routes them to rooms; no business logic lives
 * here. Routes: GET /health, GET /rooms/:room/ws (WebSocket), GET|POST
 * /rooms/:room/trpc/:path (one-shot tRPC over HTTP), POST /dev/token (local
 * development only). Everything else is a JSON 404.
 *
 * @example
 * const nanotype = createNanotype(app);
 * export class Room extends nanotype.Room {}
 * export class RoomService extends nanotype.RoomService {}
 * export default nanotype.worker;
 */
import type { AnyRouter } from "@trpc/server";
import { devTokensEnabled, handleDevToken } from "./auth/dev-token-route";
import { authenticate } from "./auth/request-auth";
import { createTrpcEndpoint } from "./http/trpc-endpoint";
import { json, jsonError } from "./lib/json-response";
import { parseRoomName, type RoomName } from "./lib/room-name";
import { SOCKET_ROUTE, TRPC_ROUTE } from "./protocol/routes";
import type { AppDefinition } from "./rpc/app-api";
import { connectRequest } from "./room/connect-request";
import { createRoomClass } from "./room/room";
import { RoomService } from "./service/room-service";

export function createNanotype<TRouter extends AnyRouter>(app: AppDefinition<TRouter>) {
  const handleTrpc = createTrpcEndpoint(app.router);
  const worker = {
    async fetch(request, env): Promise<Response> {
      const url = new URL(request.url);
      if (url.pathname === "/health") {
        return request.method === "GET" ? json({ ok: true }) : methodNotAllowed("GET");
      }
      if (url.pathname === "/dev/token" && devTokensEnabled(env)) {
        return request.method === "POST" ? handleDevToken(request, env) : methodNotAllowed("POST");
      }
      const socket = SOCKET_ROUTE.exec(url.pathname);
      if (socket) return roomSocket(request, env, url, socket[1]!);
      const trpc = TRPC_ROUTE.exec(url.pathname);
      if (trpc) {
        const room = roomFromPath(trpc[2]!);
        return typeof room === "string" ? handleTrpc(request, env, url, room, trpc[1]!) : room;
      }
      return jsonError(404, "NOT_FOUND", `no route for ${request.method} ${url.pathname}`);
    },
  } satisfies ExportedHandler<Env>;
  return { worker, Room: createRoomClass(app), RoomService };
}

/** The room named by a URL segment (percent-encoded or not), or the 400 to answer. */
function roomFromPath(encoded: string): RoomName | Response {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    return jsonError(400, "BAD_ROOM_NAME", "room name is not valid URL encoding");
  }
  const room = parseRoomName(decoded);
  return room.ok ? room.room : jsonError(400, "BAD_ROOM_NAME", room.message);
}

async function roomSocket(request: Request, env: Env, url: URL, encodedRoom: string): Promise<Response> {
  if (request.method !== "GET") return methodNotAllowed("GET");
  const room = roomFromPath(encodedRoom);
  if (typeof room !== "string") return room;
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return jsonError(426, "UPGRADE_REQUIRED", "this route accepts WebSocket upgrades only", { upgrade: "websocket" });
  }
  const auth = await authenticate(request, url, env, room, true);
  if (!auth.ok) return auth.response;
  const stub = env.ROOMS.get(env.ROOMS.idFromName(room));
  return stub.fetch(connectRequest(room, auth.identity, url.searchParams.get("connectionParams") === "1"));
}

function methodNotAllowed(allow: string): Response {
  return jsonError(405, "METHOD_NOT_ALLOWED", `use ${allow}`, { allow });
}
