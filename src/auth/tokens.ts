/**
 * Room tokens: signed JWTs (jose) carrying `sub`, `room` (exact name or
 * pattern), `role`, `exp`, an optional `name` and optional `grants`. The Worker verifies them
 * before any room is touched; dev tooling mints them.
 */
import { errors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { MAX_ROOM_NAME_CHARS, MAX_TOKEN_CHARS, MAX_USER_ID_CHARS, MAX_GRANT_CHARS, MAX_TOKEN_GRANTS } from "../lib/limits";
import type { AuthConfig, VerificationKey } from "./config";
import { GRANTS, ROLES, type Grant, type Identity, type Role } from "../protocol/identity";
import { roomMatches } from "./room-pattern";

const claimsSchema = z.object({
  sub: z.string().min(1).max(MAX_USER_ID_CHARS),
  room: z
    .string()
    .min(1)
    .max(MAX_ROOM_NAME_CHARS + 2),
  role: z.enum(ROLES),
  /** A NumericDate: seconds since the epoch, possibly fractional (RFC 7519 §2). */
  exp: z.number().positive().finite(),
  name: z.string().max(MAX_USER_ID_CHARS).optional(),
  /** Extra grants (e.g. ["analytics"]); names this version does not know are ignored. */
  grants: z.array(z.string().max(MAX_GRANT_CHARS)).max(MAX_TOKEN_GRANTS).optional(),
});

/** The grants of a token that this version knows. */
function knownGrants(claimed: readonly string[] | undefined): Grant[] {
  return (claimed ?? []).filter((grant): grant is Grant => (GRANTS as readonly string[]).includes(grant));
}

export type TokenCheck =
  { ok: true; identity: Identity } | { ok: false; status: 401 | 403; code: "UNAUTHORIZED" | "FORBIDDEN"; message: string };

/**
 * Verifies `token` and checks that it grants `room`. Messages say what is
 * wrong (missing, expired, bad signature, wrong room) and never echo the token.
 */
export async function verifyRoomToken(token: string | null, config: AuthConfig, room: string): Promise<TokenCheck> {
  if (!token) return unauthorized("a room token is required: pass Authorization: Bearer <token> or ?token=<token>");
  if (token.length > MAX_TOKEN_CHARS) return unauthorized(`token is longer than ${MAX_TOKEN_CHARS} characters`);

  let payload: unknown;
  let lastError: unknown;
  for (const key of config.keys) {
    try {
      payload = (await verifyWith(token, key, config)).payload;
      break;
    } catch (error) {
      lastError = error;
      // A wrong key gives a signature or algorithm error: try the next key.
      // Anything else (expired, bad claims) is final.
      if (!(
        error instanceof errors.JWSSignatureVerificationFailed ||
        error instanceof errors.JOSEAlgNotAllowed ||
        error instanceof errors.JWKSNoMatchingKey
      ))
        break;
    }
  }
  if (payload === undefined) return unauthorized(describe(lastError));

  const claims = claimsSchema.safeParse(payload);
  if (!claims.success) {
    const fields = [...new Set(claims.error.issues.map((issue) => issue.path.join(".") || "payload"))].join(", ");
    return unauthorized(`token claims are invalid or missing: ${fields}`);
  }
  const { sub, role, exp, name } = claims.data;
  const grants = knownGrants(claims.data.grants);
  if (!roomMatches(claims.data.room, room)) {
    return { ok: false, status: 403, code: "FORBIDDEN", message: `this token does not grant room "${room}"` };
  }
  return {
    ok: true,
    identity: { sub, role, expiresAt: expiresAtOf(exp), ...(name === undefined ? {} : { name }), ...(grants.length > 0 ? { grants } : {}) },
  };
}

/**
 * The identity's `expiresAt` (whole ms, as the room's identity schema requires) of a
 * token's `exp`: fractional seconds are floored to the millisecond (never later than
 * the token says) and a far-future `exp` is capped at the largest safe integer.
 */
function expiresAtOf(exp: number): number {
  return Math.min(Math.floor(exp * 1000), Number.MAX_SAFE_INTEGER);
}

function verifyWith(token: string, key: VerificationKey, config: AuthConfig) {
  const options = {
    algorithms: key.algorithms,
    requiredClaims: ["exp", "sub"],
    ...(config.issuer ? { issuer: config.issuer } : {}),
    ...(config.audience ? { audience: config.audience } : {}),
  };
  // Two calls because jose overloads on the key's type (static key vs key set).
  return key.kind === "secret" || !(typeof key.key === "function")
    ? jwtVerify(token, key.key as Uint8Array | CryptoKey, options)
    : jwtVerify(token, key.key, options);
}

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "token has expired";
  if (error instanceof errors.JWTClaimValidationFailed) return `token claim "${error.claim}" is invalid: ${error.reason}`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return "token signature is invalid";
  if (error instanceof errors.JOSEAlgNotAllowed) return "token algorithm is not accepted";
  if (error instanceof errors.JWKSNoMatchingKey) return "no configured key matches the token";
  return "token is malformed";
}

function unauthorized(message: string): TokenCheck {
  return { ok: false, status: 401, code: "UNAUTHORIZED", message };
}

/** What a minted token grants. */
export interface TokenGrant {
  sub: string;
  room: string;
  role: Role;
  name?: string;
  /** Extra grants, e.g. ["analytics"]. */
  grants?: Grant[];
  /** Lifetime in seconds. */
  ttlSeconds: number;
}

/**
 * Mints an HS256 room token. For development tooling and tests; production
 * tokens come from your own auth service with the same claims.
 *
 * @example
 * const token = await signRoomToken({ sub: "alice", room: "team-42/*", role: "writer", ttlSeconds: 3600 }, secret);
 */
export async function signRoomToken(grant: TokenGrant, secret: string): Promise<string> {
  const claims: Record<string, string | string[]> = { room: grant.room, role: grant.role };
  if (grant.name !== undefined) claims["name"] = grant.name;
  if (grant.grants !== undefined && grant.grants.length > 0) claims["grants"] = grant.grants;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(grant.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + grant.ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}
