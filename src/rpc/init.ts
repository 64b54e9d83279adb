/**
 * tRPC initialisation shared by every router, the engine's and the app's: the
 * call context, the superjson transformer (Dates survive), the error shape
 * (validation issues with field paths, no stacks), domain errors mapped to
 * their codes in one middleware, and the role-checked procedure builders.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";
import { hasGrant, hasRole, type Grant, type Identity, type Role } from "../protocol/identity";
import { CodedError } from "../lib/coded-error";
import { callerSqliteError } from "../lib/sqlite-errors";
import type { CallContext } from "./context";

/** Procedure metadata. Every procedure declares the least role that may call it. */
export interface ProcedureMeta {
  role: Role;
  /** A token grant that also admits callers below `role` (e.g. `analytics` for read-only SQL). */
  grant?: Grant;
  /** Served by the Worker from the D1 replica over HTTP (see replica-procedures.ts). */
  replica?: boolean;
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
  .context<CallContext>()
  .meta<ProcedureMeta>()
  .create({ transformer: superjson, isDev: false, errorFormatter: formatError });

export const router = t.router;
export const middleware = t.middleware;

/** The transformer and error formatter every room router shares (for transports that answer outside a router). */
export const rootConfig = t.router({})._def._config;

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

/**
 * Checks the role, then answers a domain error (`CodedError`, or a SQLite
 * constraint violation or storage quota) with its own code instead of INTERNAL_SERVER_ERROR.
 */
const checked = t.procedure.use(async ({ ctx, meta, path, next }) => {
  const meter = ctx.kind === "room" ? ctx.meter : undefined;
  try {
    assertMayCall(ctx.identity, meta, path);
  } catch (error) {
    meter?.call(path, false);
    throw error;
  }
  const result = await next();
  meter?.call(path, result.ok);
  if (!result.ok && result.error.code === "INTERNAL_SERVER_ERROR") {
    const cause = result.error.cause instanceof CodedError ? result.error.cause : callerSqliteError(result.error.cause);
    if (cause) return { ...result, error: new TRPCError({ code: cause.code, message: cause.message, cause }) };
  }
  return result;
});

/** Procedures that run in the room: the context is narrowed to `RoomContext`. */
const inRoom = checked.use(({ ctx, path, next }) => {
  if (ctx.kind !== "room") throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `"${path}" runs only in the room` });
  return next({ ctx });
});

/** Queries and subscriptions: any role. */
export const readerProcedure = inRoom.meta({ role: "reader" });
/** Mutations of app data: writer or admin. */
export const writerProcedure = inRoom.meta({ role: "writer" });
/** Administration: admin only. */
export const adminProcedure = inRoom.meta({ role: "admin" });
/** Analytics (read-only SQL): admin, or any role whose token carries the `analytics` grant. */
export const analyticsProcedure = inRoom.meta({ role: "admin", grant: "analytics" });
/** Replica reads: any role, served in the room or, over HTTP, by the Worker from D1 (replica-procedures.ts). */
export const replicaReadProcedure = checked.meta({ role: "reader", replica: true });
