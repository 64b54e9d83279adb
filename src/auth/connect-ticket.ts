/**
 * The Worker's half of single-use connect tickets: seals the id a room issued
 * to that room and its expiry with an HMAC, and opens a presented ticket, so a
 * forged, expired or other-room ticket is refused here and never wakes (or
 * creates) a room. The key is derived from TICKET_SECRET, else AUTH_SECRET.
 * Single use is the room's half (src/room/connect-tickets.ts). Used by the Worker.
 *
 * A ticket reads `<id>.<expiresAt>.<mac>`: a 22-character random id, the expiry
 * in ms since the epoch, and base64url HMAC-SHA256 over room, id and expiry.
 */
import { fromBase64url, toBase64url } from "../lib/base64url";
import { stringSettings } from "../lib/env-settings";
import { jsonError } from "../lib/json-response";
import { CONNECT_TICKET_TTL_MS } from "../lib/limits";
import type { RoomName } from "../lib/room-name";
import { MIN_SECRET_CHARS } from "./config";
import { authConfig } from "./request-auth";

/** Labels the derived key, so a ticket MAC is never computed with the token key itself. */
const KEY_LABEL = "nanotypedb connect ticket v1";

const TICKET_SHAPE = /^([A-Za-z0-9_-]{22})\.(\d{1,16})\.([A-Za-z0-9_-]{43})$/;

type KeyResult = { ok: true; key: CryptoKey } | { ok: false; code: string; message: string };

const keys = new WeakMap<object, Promise<KeyResult>>();

/** The ticket key of this environment, derived once per isolate. */
export function ticketKey(env: Env): Promise<KeyResult> {
  let key = keys.get(env);
  if (!key) keys.set(env, (key = deriveKey(env)));
  return key;
}

async function deriveKey(env: Env): Promise<KeyResult> {
  const { TICKET_SECRET, AUTH_SECRET } = stringSettings(env, ["TICKET_SECRET", "AUTH_SECRET"]);
  if (TICKET_SECRET !== undefined && TICKET_SECRET.length < MIN_SECRET_CHARS) {
    return { ok: false, code: "AUTH_MISCONFIGURED", message: `TICKET_SECRET must be at least ${MIN_SECRET_CHARS} characters` };
  }
  const secret = TICKET_SECRET ?? AUTH_SECRET;
  if (secret === undefined) {
    return {
      ok: false,
      code: "TICKETS_NOT_CONFIGURED",
      message: "connect tickets need a secret: set TICKET_SECRET (at least 32 characters), or connect with ?token=",
    };
  }
  const base = await hmacKey(new TextEncoder().encode(secret));
  const derived = await crypto.subtle.sign("HMAC", base, new TextEncoder().encode(KEY_LABEL));
  return { ok: true, key: await hmacKey(new Uint8Array(derived)) };
}

function hmacKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

function signed(room: RoomName, id: string, expiresAt: number): Uint8Array {
  return new TextEncoder().encode(`${room}\n${id}\n${expiresAt}`);
}

/** The ticket a client presents for room-issued `id`, bound to `room` and `expiresAt`. */
export async function sealTicket(key: CryptoKey, room: RoomName, id: string, expiresAt: number): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, signed(room, id, expiresAt)));
  return `${id}.${expiresAt}.${toBase64url(mac)}`;
}

/** The ticket id for the room to redeem, or the 401 (or 503) to answer. Never touches a room. */
export async function openTicket(
  env: Env,
  room: RoomName,
  ticket: string,
  now = Date.now(),
): Promise<{ ok: true; id: string } | { ok: false; response: Response }> {
  const config = await authConfig(env);
  if (!config.ok) return { ok: false, response: jsonError(503, config.code, config.message) };
  const key = await ticketKey(env);
  if (!key.ok) return { ok: false, response: jsonError(503, key.code, key.message) };
  const shape = TICKET_SHAPE.exec(ticket);
  if (!shape) return refused("this connect ticket is malformed");
  const [, id, expiry, mac] = shape as unknown as [string, string, string, string];
  const expiresAt = Number(expiry);
  const macBytes = fromBase64url(mac);
  if (!macBytes || !(await crypto.subtle.verify("HMAC", key.key, macBytes, signed(room, id, expiresAt)))) {
    return refused("this connect ticket is not valid for this room (forged, altered, or issued for another room)");
  }
  if (expiresAt <= now) return refused(`this connect ticket has expired (tickets last ${CONNECT_TICKET_TTL_MS / 1000} s)`);
  return { ok: true, id };
}

function refused(message: string): { ok: false; response: Response } {
  return { ok: false, response: jsonError(401, "INVALID_TICKET", `${message}: POST /rooms/<room>/ticket for a new one`) };
}
