/**
 * The front door: authenticates callers and routes them to rooms. No business
 * logic lives here. Routes: GET /health, GET /rooms/:room/ws (WebSocket),
 * POST /dev/token (local development only). Everything else is a JSON 404.
 */
import { authenticate } from "./auth/request-auth";
import { devTokensEnabled, handleDevToken } from "./auth/dev-token-route";
import { json, jsonError } from "./lib/json-response";
import { parseRoomName } from "./lib/room-name";
import { connectRequest } from "./room/connect-request";

export { Room } from "./room/room";
export type { AppRouter } from "./rpc/router";

const ROOM_ROUTE = /^\/rooms\/(.+)\/(ws)$/;

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/health") {
      return request.method === "GET" ? json({ ok: true }) : methodNotAllowed("GET");
    }
    if (url.pathname === "/dev/token" && devTokensEnabled(env)) {
      return request.method === "POST" ? handleDevToken(request, env) : methodNotAllowed("POST");
    }
    const route = ROOM_ROUTE.exec(url.pathname);
    if (route) return roomSocket(request, env, url, route[1]!);
    return jsonError(404, "NOT_FOUND", `no route for ${request.method} ${url.pathname}`);
  },
} satisfies ExportedHandler<Env>;

async function roomSocket(request: Request, env: Env, url: URL, encodedRoom: string): Promise<Response> {
  if (request.method !== "GET") return methodNotAllowed("GET");
  let decoded: string;
  try {
    decoded = decodeURIComponent(encodedRoom);
  } catch {
    return jsonError(400, "BAD_ROOM_NAME", "room name is not valid URL encoding");
  }
  const room = parseRoomName(decoded);
  if (!room.ok) return jsonError(400, "BAD_ROOM_NAME", room.message);
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return jsonError(426, "UPGRADE_REQUIRED", "this route accepts WebSocket upgrades only", { upgrade: "websocket" });
  }
  const auth = await authenticate(request, url, env, room.room, true);
  if (!auth.ok) return auth.response;
  const stub = env.ROOMS.get(env.ROOMS.idFromName(room.room));
  return stub.fetch(connectRequest(room.room, auth.identity, url.searchParams.get("connectionParams") === "1"));
}

function methodNotAllowed(allow: string): Response {
  return jsonError(405, "METHOD_NOT_ALLOWED", `use ${allow}`, { allow });
}
