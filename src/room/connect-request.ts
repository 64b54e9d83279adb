/**
 * The internal request by which the Worker hands a verified WebSocket upgrade
 * to a room. Only code holding the ROOMS binding can send it, and the Worker
 * builds it from scratch (no client header is forwarded), so the room trusts it.
 * It carries the identity from a verified token, or the id of a connect ticket
 * the Worker has checked (signature, room, expiry) for the room to redeem.
 */
import { z } from "zod";
import { identitySchema, type Identity } from "../protocol/identity";
import type { RoomName } from "../lib/room-name";

const SESSION_HEADER = "x-nanotype-session";

const connectSchema = z
  .object({
    room: z.string(),
    /** Who connects, from a verified token; absent when `ticket` is given. */
    identity: identitySchema.optional(),
    /** A connect ticket id for the room to redeem (src/room/connect-tickets.ts); absent when `identity` is given. */
    ticket: z.string().min(1).max(64).optional(),
    /** The client will send a connectionParams frame first (`?connectionParams=1`). */
    connectionParams: z.boolean(),
  })
  .refine((request) => (request.identity === undefined) !== (request.ticket === undefined), "exactly one of identity and ticket");

export type ConnectRequest = z.infer<typeof connectSchema>;

/** Who connects: a verified identity, or a ticket id the room redeems. */
export type Connecting = { identity: Identity } | { ticket: string };

/** Builds the upgrade request the Worker sends to the room's stub. */
export function connectRequest(room: RoomName, who: Connecting, connectionParams: boolean): Request {
  const body: ConnectRequest = { room, ...who, connectionParams };
  return new Request("https://room.internal/connect", {
    headers: { upgrade: "websocket", [SESSION_HEADER]: JSON.stringify(body) },
  });
}

/** Parses the Worker's upgrade request inside the room; null when it is not one. */
export function parseConnectRequest(request: Request): ConnectRequest | null {
  const header = request.headers.get(SESSION_HEADER);
  if (!header || request.headers.get("upgrade")?.toLowerCase() !== "websocket") return null;
  try {
    const parsed = connectSchema.safeParse(JSON.parse(header));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
