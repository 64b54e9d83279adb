/**
 * The Worker's routes and headers as both sides use them: the room socket
 * (`/rooms/<room>/ws`), its connect tickets (`/rooms/<room>/ticket`), the tRPC
 * HTTP endpoint (`/rooms/<room>/trpc/<path>`), the D1 bookmark header, the
 * keep-alive text frames and the path prefix of replica reads. Imported by the
 * Worker, the room and the clients.
 */

/** `GET /rooms/<room>/ws`: the room's WebSocket (tRPC and seed protocols). */
export const SOCKET_ROUTE = /^\/rooms\/(.+)\/ws$/;

/**
 * `POST /rooms/<room>/ticket` with `Authorization: Bearer <token>`: answers
 * `{ ticket, expiresAt }`, a single-use ticket for `GET /rooms/<room>/ws?ticket=`,
 * so no token travels in a URL. Checked before TRPC_ROUTE, like SOCKET_ROUTE.
 */
export const TICKET_ROUTE = /^\/rooms\/(.+)\/ticket$/;

/** `GET /rooms/<room>/inspect` with an admin token: the room inspector's answer as JSON. */
export const INSPECT_ROUTE = /^\/rooms\/(.+)\/inspect$/;

/** `GET|POST /rooms/<room>/trpc/<path>`. The procedure path never contains "/", so a room named `a/trpc` still routes. */
export const TRPC_ROUTE = /^(\/rooms\/(.+)\/trpc)\/([^/]+)$/;

/**
 * Request and response header carrying a D1 session bookmark: send back the
 * last one you received to read at least that fresh a replica state.
 */
export const BOOKMARK_HEADER = "x-nanotype-bookmark";

/** Keep-alive: the client sends PING, the runtime answers PONG without waking the room. */
export const PING = "PING";
export const PONG = "PONG";

/** Procedures under this prefix are replica reads: clients send them over HTTP, where the Worker serves them from D1. */
export const REPLICA_PATH_PREFIX = "replica.";

/** The URL path of a room (each segment percent-encoded), under `base`'s path. */
function roomPath(base: URL, room: string, tail: "ws" | "trpc" | "ticket"): string {
  return `${base.pathname.replace(/\/$/, "")}/rooms/${room.split("/").map(encodeURIComponent).join("/")}/${tail}`;
}

/** The WebSocket URL of a room: ws(s)://host/rooms/<room>/ws. */
export function roomSocketUrl(baseUrl: string, room: string): string {
  const url = new URL(baseUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = roomPath(url, room, "ws");
  return url.toString();
}

/** The room's HTTP tRPC endpoint: http(s)://host/rooms/<room>/trpc. */
export function roomHttpUrl(baseUrl: string, room: string): string {
  const url = new URL(baseUrl);
  url.pathname = roomPath(url, room, "trpc");
  return url.toString();
}

/** The room's connect-ticket route: http(s)://host/rooms/<room>/ticket (POST, with the token as a Bearer header). */
export function roomTicketUrl(baseUrl: string, room: string): string {
  const url = new URL(baseUrl);
  url.pathname = roomPath(url, room, "ticket");
  return url.toString();
}
