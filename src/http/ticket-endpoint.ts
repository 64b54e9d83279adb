/**
 * `POST /rooms/<room>/ticket`: trades a room token (Authorization header only)
 * for a single-use connect ticket, so a browser opens the room's WebSocket with
 * `?ticket=` and no token ends up in a URL. The token is verified here; the
 * room issues the ticket id and remembers who it is for (room/connect-tickets.ts);
 * the Worker seals it to the room and expiry (auth/connect-ticket.ts). Mounted
 * by `createNanotype` (src/server.ts).
 */
import { sealTicket, ticketKey } from "../auth/connect-ticket";
import { authenticate } from "../auth/request-auth";
import { json, jsonError } from "../lib/json-response";
import { CONNECT_TICKET_TTL_MS } from "../lib/limits";
import type { RoomName } from "../lib/room-name";

/** The body of a successful ticket request. */
export interface TicketResponse {
  /** Pass as `?ticket=` to `GET /rooms/<room>/ws`, once, before `expiresAt`. */
  ticket: string;
  /** When the ticket expires, in ms since the epoch. */
  expiresAt: number;
}

/** Answers a ticket request for `room` (already parsed from the path). */
export async function handleTicketRequest(request: Request, env: Env, url: URL, room: RoomName): Promise<Response> {
  if (request.method !== "POST") return jsonError(405, "METHOD_NOT_ALLOWED", "use POST", { allow: "POST" });
  const auth = await authenticate(request, url, env, room, false);
  if (!auth.ok) return auth.response;
  const key = await ticketKey(env);
  if (!key.ok) return jsonError(503, key.code, key.message);
  const issued = await env.ROOMS.get(env.ROOMS.idFromName(room)).issueTicket({ identity: auth.identity });
  if (!issued.ok) {
    const retryAfter = issued.status === 429 ? { "retry-after": String(Math.ceil(CONNECT_TICKET_TTL_MS / 1000)) } : undefined;
    return jsonError(issued.status, issued.status === 429 ? "TOO_MANY_REQUESTS" : "BAD_REQUEST", issued.message, retryAfter);
  }
  return json({
    ticket: await sealTicket(key.key, room, issued.id, issued.expiresAt),
    expiresAt: issued.expiresAt,
  } satisfies TicketResponse);
}
