/**
 * The seed's JSON protocol frames (docs/seed-protocol.md), as both sides see
 * them: what a client may send (`seedFrame`, parsed once in the room) and
 * every frame the room sends back (`SeedDown`). The room's handling is in
 * src/transport/seed-protocol.ts.
 */
import { z } from "zod";
import { mutationIdSchema } from "./mutation-id";

/** A request id as the client chose it (tRPC's `id`, the seed protocol's `requestId`). */
export type RequestId = number | string;

const requestId = z.union([z.string().max(128), z.number()]).optional();
const table = z.string().max(64);

/** Every frame a seed-protocol client may send. */
export const seedFrame = z.discriminatedUnion("action", [
  z.object({
    action: z.literal("rpc"),
    method: z.string().max(64),
    payload: z.unknown().optional(),
    requestId,
    /** Runs a mutation method exactly once: a repeat of the id gets the first answer (src/live/mutation-ledger.ts). */
    mutationId: mutationIdSchema.optional(),
  }),
  z.object({ action: z.literal("ping"), requestId }),
  z.object({ action: z.literal("subscribe"), table, requestId }),
  z.object({ action: z.literal("unsubscribe"), table, requestId }),
]);

/** An error as the seed protocol sends it. */
export interface SeedError {
  code: string;
  message: string;
  /** The offending field of an invalid payload, e.g. "title". */
  field?: string;
}

/** Every frame the room sends to a seed-protocol client. */
export type SeedDown =
  | { type: "rpc_result"; method: string; requestId: RequestId | null; data: unknown }
  | { type: "rpc_error"; method: string; requestId: RequestId | null; error: SeedError }
  | { type: "pong"; requestId?: RequestId }
  | { type: "subscribed"; table: string; seq: number; requestId: RequestId | null }
  | { type: "unsubscribed"; table: string; requestId: RequestId | null }
  | { type: "error"; requestId: RequestId | null; error: SeedError }
  | { event: "update"; table: string; action: "added" | "modified" | "deleted"; row: unknown; seq: number }
  | { event: "resync"; table: string; seq: number; reason: string }
  | { event: "memory_update"; type: "cursors" | "presence"; data: MemoryUpdate };

/** A cursor or presence change pushed to seed-protocol sockets. */
export interface MemoryUpdate {
  change: "join" | "update" | "leave" | "expire";
  userId: string;
  position?: unknown;
  status?: unknown;
  updatedAt: number;
}

/** True for frames of the seed protocol (tRPC frames never carry `action`). */
export function isSeedFrame(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && "action" in value;
}
