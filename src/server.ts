/**
 * The engine's front door for one app: `createNanotype(app)` returns the
 * Worker's fetch handler, the Room Durable Object class and the RoomService
 * entrypoint, ready to export from the app's Worker entry. The fetch handler
 * authenticates callers and routes them to rooms; no business logic lives
 * here. Routes: GET /health, GET /rooms/:room/ws (WebSocket, with ?token= or a
 * single-use ?ticket=), POST /rooms/:room/ticket (connect tickets), GET|POST
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
import { openTicket } from "./auth/connect-ticket";
import { devTokensEnabled, handleDevToken } from "./auth/dev-token-route";
import { authenticate } from "./auth/request-auth";
import { handleTicketRequest } from "./http/ticket-endpoint";
import { createTrpcEndpoint } from "./http/trpc-endpoint";
import { json, jsonError } from "./lib/json-response";
import { parseRoomName, type RoomName } from "./lib/room-name";
import { INSPECT_ROUTE, SOCKET_ROUTE, TICKET_ROUTE, TRPC_ROUTE } from "./protocol/routes";
import { handleInspectRequest } from "./http/inspect-endpoint";
import { handleRoomsRequest } from "./http/rooms-endpoint";
import type { AppDefinition } from "./rpc/app-api";
import { connectRequest, type Connecting } from "./room/connect-request";
import { createRoomClass } from "./room/room";
import { RoomService } from "./service/room-service";

export function createNanotype<TRouter extends AnyRouter>(app: AppDefinition<TRouter>) {
  const handleTrpc = createTrpcEndpoint(app.router);
  // The tables the replica holds rows of, for the operators' room list.
  const replicatedTables = app.tables.map((table) => table.name);
  const worker = {
    async fetch(request, env): Promise<Response> {
      const url = new URL(request.url);
      if (url.pathname === "/health") {
        return request.method === "GET" ? json({ ok: true }) : methodNotAllowed("GET");
      }
      if (url.pathname === "/dev/token" && devTokensEnabled(env)) {
        return request.method === "POST" ? handleDevToken(request, env) : methodNotAllowed("POST");
      }
      if (url.pathname === "/rooms") return handleRoomsRequest(request, env, url, replicatedTables);
      const socket = SOCKET_ROUTE.exec(url.pathname);
      if (socket) return roomSocket(request, env, url, socket[1]!);
      const ticket = TICKET_ROUTE.exec(url.pathname);
      if (ticket) {
        const room = roomFromPath(ticket[1]!);
        return typeof room === "string" ? handleTicketRequest(request, env, url, room) : room;
      }
      const inspect = INSPECT_ROUTE.exec(url.pathname);
      if (inspect) {
        const room = roomFromPath(inspect[1]!);
        return typeof room === "string" ? handleInspectRequest(request, env, url, room) : room;
      }
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
  const who = await connecting(request, env, url, room);
  if (who instanceof Response) return who;
  const stub = env.ROOMS.get(env.ROOMS.idFromName(room));
  // A ticket's room redeems it once, or answers 401 itself.
  return stub.fetch(connectRequest(room, who, url.searchParams.get("connectionParams") === "1"));
}

/** Who opens a socket: a `?ticket=` (checked here, redeemed by the room) or a verified token; else the refusal. */
async function connecting(request: Request, env: Env, url: URL, room: RoomName): Promise<Connecting | Response> {
  const ticket = url.searchParams.get("ticket");
  if (ticket !== null) {
    const opened = await openTicket(env, room, ticket);
    return opened.ok ? { ticket: opened.id } : opened.response;
  }
  const auth = await authenticate(request, url, env, room, true);
  return auth.ok ? { identity: auth.identity } : auth.response;
}

function methodNotAllowed(allow: string): Response {
  return jsonError(405, "METHOD_NOT_ALLOWED", `use ${allow}`, { allow });
}
