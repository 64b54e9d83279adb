/**
 * The limits a deployment may tune per room: request rate per connection,
 * socket and subscription caps, and storage quotas. Defaults are the values
 * documented in the README's limits table. An app sets its own in
 * `defineApp({ limits })`; a deployment overrides any of them with the
 * `ROOM_LIMITS` variable (a JSON object, or a TOML table in wrangler.toml),
 * which wins field by field. Both are parsed once, here; a value out of range
 * is an error that names it (the app fails to load, a room answers every call
 * with it), never a silent fallback.
 */
import { z } from "zod";
import {
  MAX_SOCKETS_PER_ROOM,
  MAX_SOCKETS_PER_USER,
  MAX_SUBSCRIPTIONS_PER_ROOM,
  MAX_SUBSCRIPTIONS_PER_SOCKET,
  MAX_SUBSCRIPTIONS_PER_USER,
} from "./wire-limits";
import { parseStructuredSetting } from "../lib/env-settings";
import { MUTATION_ID_TTL_MS, MUTATION_IDS_PER_ROOM, MUTATION_IDS_PER_USER } from "../lib/limits";

/** Storage quota of one table in one room. */
export interface TableQuota {
  /** Most rows. */
  rows: number;
  /** Most bytes of column values (each value's length as text or blob; integers and reals as their text). */
  bytes: number;
}

export interface RoomLimits {
  /** Requests one connection (a socket, or one user's HTTP calls) may make per second, sustained. */
  requestsPerSecond: number;
  /** Requests one connection may make at once before the sustained rate applies (the bucket's size). */
  requestBurst: number;
  /** Open sockets per user (token `sub`) in one room. */
  socketsPerUser: number;
  /** Open sockets per room. */
  socketsPerRoom: number;
  /** Subscriptions one user holds in one room, over all their sockets. */
  subscriptionsPerUser: number;
  /** Subscriptions per room, over all sockets and users. */
  subscriptionsPerRoom: number;
  /** Quota of every replicated table of the app, per room. */
  table: TableQuota;
  /** Per-table quotas that replace `table` for the tables named. */
  tables: Readonly<Record<string, TableQuota>>;
  /** Keys of the debounced writer per room (stored or pending). */
  debouncedKeys: number;
  /** Bytes of debounced keys and values per room (stored or pending). */
  debouncedBytes: number;
  /** Mutation ids (with their answers) a room remembers per user, for exactly-once repeats. */
  mutationIdsPerUser: number;
  /** Mutation ids a room remembers over all users. */
  mutationIdsPerRoom: number;
  /** How long a room remembers a mutation id (ms). */
  mutationIdTtlMs: number;
}

/** The documented defaults (README, limits table). */
export const DEFAULT_ROOM_LIMITS: RoomLimits = {
  requestsPerSecond: 200,
  requestBurst: 500,
  socketsPerUser: MAX_SOCKETS_PER_USER,
  socketsPerRoom: MAX_SOCKETS_PER_ROOM,
  subscriptionsPerUser: MAX_SUBSCRIPTIONS_PER_USER,
  subscriptionsPerRoom: MAX_SUBSCRIPTIONS_PER_ROOM,
  table: { rows: 100_000, bytes: 64 * 1024 * 1024 },
  tables: {},
  debouncedKeys: 1_000,
  debouncedBytes: 16 * 1024 * 1024,
  mutationIdsPerUser: MUTATION_IDS_PER_USER,
  mutationIdsPerRoom: MUTATION_IDS_PER_ROOM,
  mutationIdTtlMs: MUTATION_ID_TTL_MS,
};

/** The largest value any count or byte limit may be set to (SQLite's integers and JavaScript's stay exact far beyond). */
const CEILING = 2 ** 40;

const count = (min = 1) => z.number().int().min(min).max(CEILING);
const quota = z.strictObject({ rows: count(0), bytes: count(0) });

/** What an app or a deployment may set: any subset of RoomLimits. */
export const roomLimitsInput = z
  .strictObject({
    requestsPerSecond: count(),
    requestBurst: count(),
    socketsPerUser: count(),
    socketsPerRoom: count(),
    subscriptionsPerUser: count(MAX_SUBSCRIPTIONS_PER_SOCKET),
    subscriptionsPerRoom: count(MAX_SUBSCRIPTIONS_PER_SOCKET),
    table: quota.partial(),
    tables: z.record(z.string().min(1), quota.partial()),
    debouncedKeys: count(),
    debouncedBytes: count(),
    mutationIdsPerUser: count(),
    mutationIdsPerRoom: count(),
    mutationIdTtlMs: count(1_000),
  })
  .partial();

/** Limits as an app or deployment writes them. */
export type RoomLimitsInput = z.input<typeof roomLimitsInput>;

/** Thrown for a limits setting that does not parse; the message names every bad field. */
export class RoomLimitsError extends Error {
  override readonly name = "RoomLimitsError";
}

/**
 * The room's limits: the defaults, then the app's, then the deployment's
 * `ROOM_LIMITS` (an object or JSON text), each field by field.
 */
export function resolveRoomLimits(app: RoomLimitsInput | undefined, deployment: unknown): RoomLimits {
  const fromApp = parseLimits(app ?? {}, "defineApp({ limits })");
  const fromEnv = deployment === undefined || deployment === "" ? {} : parseLimits(deployment, "ROOM_LIMITS");
  const merged = merge(merge(DEFAULT_ROOM_LIMITS, fromApp), fromEnv);
  if (merged.requestBurst < merged.requestsPerSecond) {
    throw new RoomLimitsError(
      `room limits: requestBurst (${merged.requestBurst}) must be at least requestsPerSecond (${merged.requestsPerSecond})`,
    );
  }
  return merged;
}

/** The quota of `table` under `limits`. */
export function tableQuota(limits: RoomLimits, table: string): TableQuota {
  return limits.tables[table] ?? limits.table;
}

function parseLimits(raw: unknown, source: string): z.output<typeof roomLimitsInput> {
  return parseStructuredSetting(raw, roomLimitsInput, source, (message) => new RoomLimitsError(message));
}

function merge(base: RoomLimits, over: z.output<typeof roomLimitsInput>): RoomLimits {
  const table = mergeQuota(base.table, over.table);
  const tables: Record<string, TableQuota> = { ...base.tables };
  for (const [name, quota] of Object.entries(over.tables ?? {})) tables[name] = mergeQuota(tables[name] ?? table, quota);
  return {
    requestsPerSecond: over.requestsPerSecond ?? base.requestsPerSecond,
    requestBurst: over.requestBurst ?? base.requestBurst,
    socketsPerUser: over.socketsPerUser ?? base.socketsPerUser,
    socketsPerRoom: over.socketsPerRoom ?? base.socketsPerRoom,
    subscriptionsPerUser: over.subscriptionsPerUser ?? base.subscriptionsPerUser,
    subscriptionsPerRoom: over.subscriptionsPerRoom ?? base.subscriptionsPerRoom,
    table,
    tables,
    debouncedKeys: over.debouncedKeys ?? base.debouncedKeys,
    debouncedBytes: over.debouncedBytes ?? base.debouncedBytes,
    mutationIdsPerUser: over.mutationIdsPerUser ?? base.mutationIdsPerUser,
    mutationIdsPerRoom: over.mutationIdsPerRoom ?? base.mutationIdsPerRoom,
    mutationIdTtlMs: over.mutationIdTtlMs ?? base.mutationIdTtlMs,
  };
}

function mergeQuota(base: TableQuota, over: { rows?: number | undefined; bytes?: number | undefined } | undefined): TableQuota {
  return { rows: over?.rows ?? base.rows, bytes: over?.bytes ?? base.bytes };
}
