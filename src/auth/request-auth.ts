/**
 * Authenticates an HTTP or WebSocket-upgrade request for a room, in the
 * Worker, before any Durable Object is touched. Fails closed when no key is
 * configured.
 */
import { stringSettings } from "../lib/env-settings";
import { jsonError } from "../lib/json-response";
import type { RoomName } from "../lib/room-name";
import { loadAuthConfig, type AuthConfigResult, type AuthEnv } from "./config";
import type { Identity } from "../protocol/identity";
import { verifyRoomToken } from "./tokens";

const configs = new WeakMap<object, Promise<AuthConfigResult>>();

/** The auth settings of this environment, read once per isolate. */
export function authConfig(env: Env): Promise<AuthConfigResult> {
  let config = configs.get(env);
  if (!config) configs.set(env, (config = loadAuthConfig(readAuthEnv(env))));
  return config;
}

/** Picks the auth settings out of the Worker's environment. */
export function readAuthEnv(env: Env): AuthEnv {
  return stringSettings(env, [
    "AUTH_SECRET",
    "AUTH_PUBLIC_KEY",
    "AUTH_PUBLIC_KEY_ALG",
    "AUTH_JWKS_URL",
    "AUTH_JWKS",
    "AUTH_ISSUER",
    "AUTH_AUDIENCE",
    "DEV_TOKENS",
  ]);
}

/** The bearer token of a request: `Authorization: Bearer …`, or `?token=` when allowed (WebSockets). */
export function tokenOf(request: Request, url: URL, allowQuery: boolean): string | null {
  const header = request.headers.get("authorization");
  if (header) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    return match ? match[1]! : "";
  }
  return allowQuery ? url.searchParams.get("token") : null;
}

export type RequestAuth = { ok: true; identity: Identity } | { ok: false; response: Response };

/** Why a request was refused: 503 unconfigured, 401 bad token, 403 wrong room. */
export interface AuthFailure {
  ok: false;
  status: 401 | 403 | 503;
  code: string;
  message: string;
}

/**
 * Verifies the request's token for `room` and says why not, for callers that
 * answer in their own format (the tRPC HTTP endpoint). Never touches a room.
 */
export async function verifyRequest(
  request: Request,
  url: URL,
  env: Env,
  room: RoomName,
  allowQuery: boolean,
): Promise<{ ok: true; identity: Identity } | AuthFailure> {
  const config = await authConfig(env);
  if (!config.ok) return { ok: false, status: 503, code: config.code, message: config.message };
  const token = tokenOf(request, url, allowQuery);
  if (token === null && !allowQuery) {
    const hint = url.searchParams.has("token") ? " (this route does not read ?token=: URLs end up in logs)" : "";
    return { ok: false, status: 401, code: "UNAUTHORIZED", message: `a room token is required: pass Authorization: Bearer <token>${hint}` };
  }
  const check = await verifyRoomToken(token, config.config, room);
  if (!check.ok) return { ok: false, status: check.status, code: check.code, message: check.message };
  return { ok: true, identity: check.identity };
}

/** The `www-authenticate` header a 401 carries. */
export const BEARER_CHALLENGE = { "www-authenticate": 'Bearer realm="nanotypedb"' } as const;

/** Verifies the request's token for `room`: 503 unconfigured, 401 bad token, 403 wrong room, as JSON error responses. */
export async function authenticate(request: Request, url: URL, env: Env, room: RoomName, allowQuery: boolean): Promise<RequestAuth> {
  const check = await verifyRequest(request, url, env, room, allowQuery);
  if (!check.ok) {
    return { ok: false, response: jsonError(check.status, check.code, check.message, check.status === 401 ? BEARER_CHALLENGE : undefined) };
  }
  return { ok: true, identity: check.identity };
}
