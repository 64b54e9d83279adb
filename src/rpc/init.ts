/**
 * tRPC initialisation shared by every router slice: the context type, the
 * superjson transformer (Dates survive), the error shape (validation issues
 * with field paths, no stacks) and the role-checked procedure builders.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";
import { hasGrant, hasRole, type Grant, type Identity, type Role } from "../auth/identity";
import type { RoomContext } from "./context";

/** Procedure metadata. Every procedure declares the least role that may call it. */
export interface ProcedureMeta {
  role: Role;
  /** A token grant that also admits callers below `role` (e.g. `analytics` for read-only SQL). */
  grant?: Grant;
}

/** One validation problem, as sent in `error.data.issues`. */
export interface ValidationIssue {
  /** Dotted path of the offending field, e.g. "title". */
  path: string;
  message: string;
  code: string;
}

/**
 * The error shape of every transport: tRPC's, plus `data.issues` for invalid
 * input. Exported for the Worker's HTTP endpoint, which must answer in the same shape.
 */
export function formatError<TShape extends { data: object }>({ shape, error }: { shape: TShape; error: TRPCError }) {
  const issues: ValidationIssue[] | null =
    error.cause instanceof ZodError
      ? error.cause.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message, code: issue.code }))
      : null;
  return { ...shape, data: { ...shape.data, issues } };
}

const t = initTRPC
  .context<RoomContext>()
  .meta<ProcedureMeta>()
  .create({ transformer: superjson, isDev: false, errorFormatter: formatError });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/**
 * Fails closed: a procedure without a declared role cannot be called, a caller
 * below the role gets FORBIDDEN, an expired credential gets UNAUTHORIZED.
 * Exported so that procedures served outside the room (the Worker's HTTP
 * endpoint) check roles the same way.
 */
export function assertMayCall(identity: Identity, meta: ProcedureMeta | undefined, path: string): void {
  const minimum = meta?.role;
  if (!minimum) {
    throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `procedure "${path}" declares no role` });
  }
  if (identity.expiresAt <= Date.now()) {
    throw new TRPCError({ code: "UNAUTHORIZED", message: "your token has expired; reconnect with a fresh token" });
  }
  const grant = meta?.grant;
  if (!hasRole(identity.role, minimum) && !(grant && hasGrant(identity, grant))) {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: `"${path}" requires the ${minimum} role${grant ? ` or the ${grant} grant` : ""}; your token grants ${identity.role}`,
    });
  }
}

const enforceRole = t.middleware(({ ctx, meta, path, next }) => {
  assertMayCall(ctx.identity, meta, path);
  return next();
});

const checked = t.procedure.use(enforceRole);

/** Queries and subscriptions: any role. */
export const readerProcedure = checked.meta({ role: "reader" });
/** Mutations of app data: writer or admin. */
export const writerProcedure = checked.meta({ role: "writer" });
/** Administration: admin only. */
export const adminProcedure = checked.meta({ role: "admin" });
/** Analytics (read-only SQL): admin, or any role whose token carries the `analytics` grant. */
export const analyticsProcedure = checked.meta({ role: "admin", grant: "analytics" });
