/**
 * POST /dev/token — mints HS256 room tokens for local development. Exists only
 * when DEV_TOKENS=true (set in .dev.vars, never in wrangler.toml), so the
 * deployed Worker answers 404 here.
 */
import { z } from "zod";
import { json, jsonError } from "../lib/json-response";
import { MAX_DEV_TOKEN_TTL_SECONDS, MAX_ROOM_NAME_CHARS, MAX_USER_ID_CHARS } from "../lib/limits";
import { GRANTS, ROLES } from "../protocol/identity";
import { readAuthEnv } from "./request-auth";
import { signRoomToken } from "./tokens";

const grantSchema = z.strictObject({
  sub: z.string().min(1).max(MAX_USER_ID_CHARS),
  room: z
    .string()
    .min(1)
    .max(MAX_ROOM_NAME_CHARS + 2),
  role: z.enum(ROLES),
  name: z.string().min(1).max(MAX_USER_ID_CHARS).optional(),
  grants: z.array(z.enum(GRANTS)).optional(),
  ttlSeconds: z.number().int().min(1).max(MAX_DEV_TOKEN_TTL_SECONDS).default(3600),
});

/** True when this environment serves the development token route. */
export function devTokensEnabled(env: Env): boolean {
  return readAuthEnv(env).DEV_TOKENS === "true";
}

export async function handleDevToken(request: Request, env: Env): Promise<Response> {
  const secret = readAuthEnv(env).AUTH_SECRET;
  if (!secret) return jsonError(503, "AUTH_NOT_CONFIGURED", "AUTH_SECRET is not set; copy .dev.vars.example to .dev.vars");
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return jsonError(400, "BAD_REQUEST", "body must be JSON: {sub, room, role, name?, grants?, ttlSeconds?}");
  }
  const grant = grantSchema.safeParse(body);
  if (!grant.success) {
    const detail = grant.error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`).join("; ");
    return jsonError(400, "BAD_REQUEST", detail);
  }
  const { name, grants, ...rest } = grant.data;
  const token = await signRoomToken(
    { ...rest, ...(name === undefined ? {} : { name }), ...(grants === undefined ? {} : { grants }) },
    secret,
  );
  return json({ token, expiresAt: Date.now() + grant.data.ttlSeconds * 1000 });
}
