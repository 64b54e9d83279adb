/**
 * A room client that calls procedures by path ("notes.create"), untyped, for
 * suites that run against more than one app (test/engine/). It is the
 * project's own client (`clientFor`), so it is closed by `closeClients`.
 */
import type { Unsubscribable } from "@trpc/server/observable";
import type { Role } from "../../src/protocol/identity";
import { clientFor } from "./clients";

interface ProcedureNode {
  query(input?: unknown): Promise<unknown>;
  mutate(input?: unknown): Promise<unknown>;
  subscribe(input: unknown, handlers: { onData(event: unknown): void; onError?(error: unknown): void }): Unsubscribable;
}

export interface PathClient {
  query<T = unknown>(path: string, input?: unknown): Promise<T>;
  mutate<T = unknown>(path: string, input?: unknown): Promise<T>;
  /** Subscribes; `onData` gets what the client delivers (`{ id, data }` for tracked events). */
  subscribe<T>(path: string, input: unknown, onData: (event: T) => void): Unsubscribable;
}

/** A client of `room` calling procedures by path (`clientFor`'s socket and HTTP links). */
export async function pathClientFor(room: string, role: Role = "writer", sub = "alice"): Promise<PathClient> {
  const client: unknown = await clientFor(room, role, sub);
  // The tRPC client is a proxy: every property path ends in a procedure's query/mutate/subscribe.
  const at = (path: string) => path.split(".").reduce((node, key) => (node as Record<string, unknown>)[key], client) as ProcedureNode;
  return {
    query: async <T>(path: string, input?: unknown) => (await at(path).query(input)) as T,
    mutate: async <T>(path: string, input?: unknown) => (await at(path).mutate(input)) as T,
    subscribe: <T>(path: string, input: unknown, onData: (event: T) => void) =>
      at(path).subscribe(input, {
        onData: (event) => onData(event as T),
        onError: (error) => console.error(`subscription ${path} failed`, error),
      }),
  };
}
