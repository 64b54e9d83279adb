/**
 * What `admin.inspect` (and `GET /rooms/<room>/inspect` with an admin token)
 * answers: what a room holds, who is in it, what it does and costs, and why it
 * is awake. Built by the room (src/room/room.ts) from its parts.
 */
import type { CostEstimate } from "../lib/pricing";
import type { MeterSnapshot } from "./meter";

export interface RoomInspection {
  room: string;
  /** When this was taken (ms since the epoch). */
  at: number;
  /** The app's replicated tables: rows and bytes of values (kept by the quota triggers). */
  tables: { name: string; rows: number; bytes: number }[];
  /** The change log: the last seq, the oldest seq still held, how many entries. */
  changeLog: { head: number; oldest: number | null; entries: number };
  /** Open sockets, by user, and live subscriptions by procedure. */
  connections: {
    sockets: number;
    users: { sub: string; role: string; sockets: number; subscriptions: number }[];
    subscriptionsByProcedure: Record<string, number>;
  };
  /** Cursors, presence and cache entries held in memory. */
  memory: { entries: number; bytes: number; cursors: number; presence: number; cache: number };
  /** Debounced values waiting to be written, and when the next is due. */
  debounced: { pendingKeys: number; pendingBytes: number; nextFlushAt: number | null; sqliteWrites: number; updatesReceived: number };
  /** The D1 replica's state (as `sync.status`). */
  sync: { roomSeq: number; replicatedSeq: number; pendingChanges: number; isHealthy: boolean; lastError: string | null };
  /** Mutation ids remembered for exactly-once repeats. */
  mutationIds: number;
  meter: MeterSnapshot;
  /** The meter priced at Cloudflare's published unit prices (src/lib/pricing.ts, docs/cost.md): so far, per day, per month. */
  cost: CostEstimate;
  /** Why the room is awake now, and what would let it sleep. */
  awake: {
    /** Calls and frames being handled right now (this inspection included). */
    inFlight: number;
    /** The room's alarm: when and for which duties (null: none set). */
    nextAlarm: { at: number; duties: string[] } | null;
    /** Reasons it stays in memory, in plain words; empty when it may hibernate. */
    reasons: string[];
  };
}
