/**
 * The one call path into a room's router, for every transport (WebSocket
 * frames, seed frames, direct calls, the Worker's replica reads): runs a query
 * or mutation and refuses a stream where a value was expected, or starts a
 * subscription and refuses anything but a stream. Also the one
 * place that reads tRPC's router internals (`_def`), as `proceduresOf`.
 */
import { callTRPCProcedure, TRPCError, type AnyProcedure, type AnyRouter } from "@trpc/server";
import { isObservable, type Observable } from "@trpc/server/observable";
import type { ProcedureMeta } from "./init";

export type CallType = "query" | "mutation";

/** Runs `path` of `router` as a query or mutation with `ctx`; the raw input is validated by the procedure. */
export async function callProcedure<TRouter extends AnyRouter>(
  router: TRouter,
  call: { ctx: unknown; path: string; type: CallType; input: unknown; batchIndex?: number; signal?: AbortSignal | undefined },
): Promise<unknown> {
  const result = await callTRPCProcedure({
    router,
    path: call.path,
    getRawInput: async () => call.input,
    ctx: call.ctx,
    type: call.type,
    signal: call.signal,
    batchIndex: call.batchIndex ?? 0,
  });
  if (isObservable(result) || (typeof result === "object" && result !== null && Symbol.asyncIterator in result)) {
    throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `${call.type} "${call.path}" returned a stream` });
  }
  return result;
}

/** Starts subscription `path` of `router` with `ctx`; returns its stream (an async iterable or observable). */
export async function subscribeProcedure<TRouter extends AnyRouter>(
  router: TRouter,
  call: { ctx: unknown; path: string; input: unknown; signal: AbortSignal },
): Promise<AsyncIterable<unknown> | Observable<unknown, unknown>> {
  const result = await callTRPCProcedure({
    router,
    path: call.path,
    getRawInput: async () => call.input,
    ctx: call.ctx,
    type: "subscription",
    signal: call.signal,
    batchIndex: 0,
  });
  if (isObservable(result)) return result;
  if (typeof result === "object" && result !== null && Symbol.asyncIterator in result) return result as AsyncIterable<unknown>;
  throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `subscription "${call.path}" returned no stream` });
}

/** A procedure as the transports need to know it: its type and metadata. */
export interface ProcedureInfo {
  type: "query" | "mutation" | "subscription";
  meta: ProcedureMeta | undefined;
  procedure: AnyProcedure;
}

const cache = new WeakMap<AnyRouter, ReadonlyMap<string, ProcedureInfo>>();

/** Every procedure of `router` by its full path ("tasks.create"). */
export function proceduresOf(router: AnyRouter): ReadonlyMap<string, ProcedureInfo> {
  let map = cache.get(router);
  if (!map) {
    // At runtime `_def.procedures` is flat, keyed by full path; its type is the nested record.
    const flat = router._def.procedures as unknown as Record<string, AnyProcedure>;
    map = new Map(
      Object.entries(flat).map(([path, procedure]) => [
        path,
        { type: procedure._def.type, meta: procedure._def.meta as ProcedureMeta | undefined, procedure },
      ]),
    );
    cache.set(router, map);
  }
  return map;
}
