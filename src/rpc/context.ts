/**
 * The procedure contexts. A call runs either in the room (`RoomContext`: who is
 * calling, the room's Drizzle handle, the app's services and the engine's
 * features) or, for a replica read the Worker serves from D1, in the Worker
 * (`ReplicaContext`: who is calling and the caller's room in the replica,
 * nothing else). Transports build them; procedures only read them.
 */
import type { Identity } from "../protocol/identity";
import type { RoomInspection } from "../protocol/inspection";
import type { DebouncedWriter } from "../debounce/debounced-writer";
import type { RoomDatabase } from "../lib/room-database";
import type { RoomName } from "../lib/room-name";
import type { ChangeLog } from "../live/change-log";
import type { CommitHub } from "../live/commit-hub";
import type { MemoryStore } from "../presence/memory-store";
import type { ReplicaSource } from "../replica/table-reader";
import type { ReadOnlySql } from "../sql/read-only-sql";
import type { SyncEngine } from "../sync/sync-engine";

/** Ephemeral state a socket remembers in its attachment, so it survives hibernation. */
export interface RememberedState {
  cursor?: { value: unknown; updatedAt: number };
  presence?: { value: unknown; updatedAt: number };
}

export type { RoomDatabase };

/** What every call knows, wherever it runs. */
interface CallBase {
  /** The room this call runs in (from the verified token or binding, never from the payload). */
  room: RoomName;
  /** The verified caller. Set by the transport, never from the payload. */
  identity: Identity;
}

/** A call running inside the room. */
export interface RoomContext extends CallBase {
  kind: "room";
  /** `connectionParams` the WebSocket client sent: informational only, never trusted for access. */
  connectionParams: Readonly<Record<string, string>> | null;
  /** The room's SQLite through Drizzle. Every write to a replicated table is logged by triggers. */
  db: RoomDatabase;
  /** The app's services, built once per room from `db` (typed by the app's procedure builders). */
  services: unknown;
  /** The change log and commit announcements behind feeds and live queries. */
  live: { log: ChangeLog; hub: CommitHub };
  /** Cursors, presence and cache entries (never SQLite). */
  memory: MemoryStore;
  /** High-frequency values, persisted at most once per interval per key. */
  debounced: DebouncedWriter;
  /** Replication to the D1 replica. */
  sync: SyncEngine;
  /** The calling WebSocket, when there is one (not for service or HTTP calls). */
  socket: { remember(state: RememberedState): void } | null;
  /** Read-only SQL over the room's readable tables. */
  sql: ReadOnlySql;
  /** Counts calls per procedure for the room's meter (src/room/room-meter.ts). */
  meter?: { call(path: string, ok: boolean): void } | undefined;
  /** What the room holds, does and costs, and why it is awake (admin.inspect). */
  inspect?: (() => RoomInspection) | undefined;
}

/** A replica read served by the Worker from D1: only the caller's room in the replica, and a way back into the room. */
export interface ReplicaContext extends CallBase {
  kind: "replica";
  replica: ReplicaSource;
}

/** The context of any call. */
export type CallContext = RoomContext | ReplicaContext;
