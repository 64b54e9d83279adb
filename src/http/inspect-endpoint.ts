/**
 * `GET /rooms/<room>/inspect` with an admin token (Authorization header only):
 * the room inspector's answer (`admin.inspect`, src/protocol/inspection.ts) as
 * plain JSON, for curl and dashboards. The token is verified here; the room
 * checks the role like any call. Mounted by `createNanotype` (src/server.ts).
 */
import superjson from "superjson";
import { authenticate } from "../auth/request-auth";
import { json, jsonError } from "../lib/json-response";
import type { RoomName } from "../lib/room-name";
import type { DirectCallResult } from "../protocol/direct-call";

export async function handleInspectRequest(request: Request, env: Env, url: URL, room: RoomName): Promise<Response> {
  if (request.method !== "GET") return jsonError(405, "METHOD_NOT_ALLOWED", "use GET", { allow: "GET" });
  const auth = await authenticate(request, url, env, room, false);
  if (!auth.ok) return auth.response;
  const text = await env.ROOMS.get(env.ROOMS.idFromName(room)).call({
    room,
    identity: auth.identity,
    via: "http",
    path: "admin.inspect",
    type: "query",
  });
  const result = JSON.parse(text) as DirectCallResult;
  if (!result.ok) return jsonError(result.error.data.httpStatus, result.error.data.code, result.error.message);
  return json(superjson.deserialize(result.data));
}
