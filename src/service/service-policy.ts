/**
 * What a service binding may assert. Any Worker bound to RoomService can name
 * any identity, so the deployment decides how far that trust goes, with two
 * vars: SERVICE_MAX_ROLE caps the role (and, below admin, refuses grants) and
 * SERVICE_ROOM_PATTERN limits the rooms (`*`, `jobs/*` or one exact room).
 * Unset, bound Workers are fully trusted. A bad value fails closed.
 */
import { TRPCError } from "@trpc/server";
import { hasRole, ROLES, type Identity, type Role } from "../protocol/identity";
import { roomMatches } from "../auth/room-pattern";
import { stringSettings } from "../lib/env-settings";
import type { RoomName } from "../lib/room-name";

/** The settings read from the Worker's environment (vars). */
export interface ServicePolicyEnv {
  /** The highest role a service call may assert: reader, writer or admin (default). */
  SERVICE_MAX_ROLE?: string;
  /** The rooms a service call may reach, as a token room pattern: `*` (default), `team-42/*` or an exact name. */
  SERVICE_ROOM_PATTERN?: string;
}

export interface ServicePolicy {
  maxRole: Role;
  roomPattern: string;
}

export type ServicePolicyResult = { ok: true; policy: ServicePolicy } | { ok: false; message: string };

/** Reads the policy; a value that is set but not understood refuses every call rather than trusting more. */
export function loadServicePolicy(env: ServicePolicyEnv): ServicePolicyResult {
  const maxRole = env.SERVICE_MAX_ROLE || "admin";
  if (!(ROLES as readonly string[]).includes(maxRole)) {
    return { ok: false, message: `SERVICE_MAX_ROLE must be one of ${ROLES.join(", ")}; got "${maxRole}"` };
  }
  const roomPattern = env.SERVICE_ROOM_PATTERN || "*";
  return { ok: true, policy: { maxRole: maxRole as Role, roomPattern } };
}

/** Picks the policy settings out of the Worker's environment. */
export function readServicePolicyEnv(env: object): ServicePolicyEnv {
  return stringSettings(env, ["SERVICE_MAX_ROLE", "SERVICE_ROOM_PATTERN"]);
}

/**
 * Why the policy refuses this call (FORBIDDEN), or null when it may go ahead.
 * A grant admits admin-only procedures, so an identity with grants needs an admin cap.
 */
export function refuseServiceCall(policy: ServicePolicy, room: RoomName, identity: Pick<Identity, "role" | "grants">): TRPCError | null {
  if (!roomMatches(policy.roomPattern, room)) {
    return new TRPCError({ code: "FORBIDDEN", message: `service calls may not reach room "${room}" (SERVICE_ROOM_PATTERN)` });
  }
  if (!hasRole(policy.maxRole, identity.role)) {
    return new TRPCError({
      code: "FORBIDDEN",
      message: `service calls may assert at most the ${policy.maxRole} role, not ${identity.role} (SERVICE_MAX_ROLE)`,
    });
  }
  if ((identity.grants?.length ?? 0) > 0 && policy.maxRole !== "admin") {
    return new TRPCError({ code: "FORBIDDEN", message: "service calls may assert grants only when SERVICE_MAX_ROLE is admin" });
  }
  return null;
}
