/**
 * Which keys verify room tokens, read once from the environment. Fails closed:
 * with no key configured, every room request is refused with a 503 naming the
 * missing setting — there is no anonymous fallback, locally or deployed.
 */
import { createLocalJWKSet, createRemoteJWKSet, importSPKI, type JWTVerifyGetKey, type JSONWebKeySet } from "jose";

/** The settings read from the Worker's environment (vars and secrets). */
export interface AuthEnv {
  /** HS256 shared secret (at least 32 characters). */
  AUTH_SECRET?: string;
  /** PEM (SPKI) public key for ES256 or RS256 tokens. */
  AUTH_PUBLIC_KEY?: string;
  /** Algorithm of AUTH_PUBLIC_KEY: "ES256" (default) or "RS256". */
  AUTH_PUBLIC_KEY_ALG?: string;
  /** HTTPS URL of a JWKS for ES256/RS256 tokens. */
  AUTH_JWKS_URL?: string;
  /** Inline JWKS JSON for ES256/RS256 tokens. */
  AUTH_JWKS?: string;
  /** Expected `iss` claim, if set. */
  AUTH_ISSUER?: string;
  /** Expected `aud` claim, if set. */
  AUTH_AUDIENCE?: string;
  /** "true" only in local development (.dev.vars): enables POST /dev/token. */
  DEV_TOKENS?: string;
}

export const MIN_SECRET_CHARS = 32;

export type VerificationKey =
  { kind: "secret"; algorithms: ["HS256"]; key: Uint8Array } | { kind: "public"; algorithms: string[]; key: CryptoKey | JWTVerifyGetKey };

export interface AuthConfig {
  keys: VerificationKey[];
  issuer?: string;
  audience?: string;
}

export type AuthConfigResult = { ok: true; config: AuthConfig } | { ok: false; code: string; message: string };

const ASYMMETRIC = ["ES256", "RS256"];

/** Reads and validates the auth settings. Call once per isolate and cache. */
export async function loadAuthConfig(env: AuthEnv): Promise<AuthConfigResult> {
  const keys: VerificationKey[] = [];
  if (env.AUTH_SECRET) {
    if (env.AUTH_SECRET.length < MIN_SECRET_CHARS) {
      return misconfigured(`AUTH_SECRET must be at least ${MIN_SECRET_CHARS} characters`);
    }
    keys.push({ kind: "secret", algorithms: ["HS256"], key: new TextEncoder().encode(env.AUTH_SECRET) });
  }
  try {
    if (env.AUTH_PUBLIC_KEY) {
      const alg = env.AUTH_PUBLIC_KEY_ALG ?? "ES256";
      if (!ASYMMETRIC.includes(alg)) return misconfigured(`AUTH_PUBLIC_KEY_ALG must be ES256 or RS256, got "${alg}"`);
      keys.push({ kind: "public", algorithms: [alg], key: await importSPKI(env.AUTH_PUBLIC_KEY, alg) });
    }
    if (env.AUTH_JWKS) {
      keys.push({ kind: "public", algorithms: ASYMMETRIC, key: createLocalJWKSet(JSON.parse(env.AUTH_JWKS) as JSONWebKeySet) });
    }
    if (env.AUTH_JWKS_URL) {
      keys.push({ kind: "public", algorithms: ASYMMETRIC, key: createRemoteJWKSet(new URL(env.AUTH_JWKS_URL)) });
    }
  } catch (cause) {
    return misconfigured(`a configured public key could not be read: ${(cause as Error).message}`);
  }
  if (keys.length === 0) {
    return {
      ok: false,
      code: "AUTH_NOT_CONFIGURED",
      message:
        "No token verification key is configured: set the AUTH_SECRET secret (HS256), or AUTH_PUBLIC_KEY, AUTH_JWKS or AUTH_JWKS_URL (ES256/RS256)",
    };
  }
  return {
    ok: true,
    config: {
      keys,
      ...(env.AUTH_ISSUER ? { issuer: env.AUTH_ISSUER } : {}),
      ...(env.AUTH_AUDIENCE ? { audience: env.AUTH_AUDIENCE } : {}),
    },
  };
}

function misconfigured(message: string): AuthConfigResult {
  return { ok: false, code: "AUTH_MISCONFIGURED", message };
}
