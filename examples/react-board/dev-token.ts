/**
 * Room tokens for the React example, from the development token route
 * (`POST /dev/token`, enabled by `npm run dev` only). A real app gets its
 * token from its own sign-in instead.
 */
import type { Role } from "../../src/client";

/** Who joins which room, as what. */
export interface Member {
  name: string;
  /** User id derived from the name ("Ada Lovelace" → "ada-lovelace"). */
  sub: string;
  room: string;
  role: Role;
}

export const ROLES: readonly Role[] = ["reader", "writer", "admin"];

/** A token this close to expiry is replaced before the next connect. */
const TOKEN_RENEW_MS = 60_000;

/** Turns a display name into a user id: lower case, runs of other characters become "-". */
export function userIdFor(name: string): string {
  const id = name
    .normalize("NFKD")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64);
  return id || "guest";
}

/** Mints one token; throws an error in plain words when the route refuses or is missing. */
async function mintToken(member: Member): Promise<{ token: string; expiresAt: number }> {
  const response = await fetch("/dev/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sub: member.sub, room: member.room, role: member.role, name: member.name }),
  });
  const body = (await response.json().catch(() => null)) as { token?: string; expiresAt?: number; error?: { message?: string } } | null;
  if (!response.ok || typeof body?.token !== "string" || typeof body.expiresAt !== "number") {
    throw new Error(body?.error?.message ?? `the token route answered HTTP ${response.status}`);
  }
  return { token: body.token, expiresAt: body.expiresAt };
}

/**
 * A token source for `createRoomClient`: the first token is minted now (so a
 * wrong setup fails on the join form), later ones when it nears expiry.
 */
export async function devTokenSource(member: Member): Promise<() => Promise<string>> {
  let current = await mintToken(member);
  return async () => {
    if (current.expiresAt - Date.now() < TOKEN_RENEW_MS) current = await mintToken(member);
    return current.token;
  };
}
