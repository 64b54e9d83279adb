/**
 * Who is calling: the verified identity that travels from the Worker to the
 * room, lives in the socket attachment and is the procedure context's `identity`.
 */
import { z } from "zod";
import { MAX_USER_ID_CHARS } from "../lib/limits";

/** Roles in increasing order of power. */
export const ROLES = ["reader", "writer", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** True when `role` is at least `minimum` (`reader` < `writer` < `admin`). */
export function hasRole(role: Role, minimum: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(minimum);
}

export const identitySchema = z.object({
  /** User id (the token's `sub`). */
  sub: z.string().min(1).max(MAX_USER_ID_CHARS),
  role: z.enum(ROLES),
  /** Display name, if the token carried one. */
  name: z.string().max(MAX_USER_ID_CHARS).optional(),
  /** When the credential expires, in ms since the epoch (the token's `exp`). */
  expiresAt: z.number().int().positive(),
});

/** A verified caller. Only the Worker's token check (or a trusted service binding) makes one. */
export type Identity = z.infer<typeof identitySchema>;
