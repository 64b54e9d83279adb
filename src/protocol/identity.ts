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

/**
 * Grants a token may carry on top of its role (the `grants` claim). `analytics`
 * admits read-only SQL (`sql.query`) below the admin role; `operator`, on an
 * admin token for every room (`room: "*"`), admits the room list (`GET /rooms`).
 */
export const GRANTS = ["analytics", "operator"] as const;
export type Grant = (typeof GRANTS)[number];

export const identitySchema = z.object({
  /** User id (the token's `sub`). */
  sub: z.string().min(1).max(MAX_USER_ID_CHARS),
  role: z.enum(ROLES),
  /** Display name, if the token carried one. */
  name: z.string().max(MAX_USER_ID_CHARS).optional(),
  /** When the credential expires, in ms since the epoch (the token's `exp`). */
  expiresAt: z.number().int().positive(),
  /** Extra grants from the token's `grants` claim. */
  grants: z.array(z.enum(GRANTS)).optional(),
});

/** A verified caller. Only the Worker's token check (or a trusted service binding) makes one. */
export type Identity = z.infer<typeof identitySchema>;

/** True when the identity's token carries `grant`. */
export function hasGrant(identity: Identity, grant: Grant): boolean {
  return identity.grants?.includes(grant) ?? false;
}
