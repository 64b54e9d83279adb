/**
 * The procedure context every transport builds: who is calling, in which room,
 * and the room's features. The room constructs it; procedures only read it.
 */
import type { Identity } from "../auth/identity";
import type { DebouncedWriter } from "../debounce/debounced-writer";
import type { ChangeLog } from "../live/change-log";
import type { CommitHub } from "../live/commit-hub";
import type { RoomName } from "../lib/room-name";
import type { MemoryStore } from "../presence/memory-store";
import type { ReadOnlySql } from "../sql/read-only-sql";
import type { SyncEngine } from "../sync/sync-engine";
import type { TaskStore } from "../tasks/task-store";
import type { ReplicaAccess } from "./replica-procedures";

/** Ephemeral state a socket remembers in its attachment, so it survives hibernation. */
export interface RememberedState {
  cursor?: { value: unknown; updatedAt: number };
  presence?: { value: unknown; updatedAt: number };
}

export interface RoomContext {
  /** The room this call runs in. */
  room: RoomName;
  /** The verified caller. Set by the transport from the token, never from the payload. */
  identity: Identity;
  /** `connectionParams` the WebSocket client sent: informational only, never trusted for access. */
  connectionParams: Readonly<Record<string, string>> | null;
  tasks: TaskStore;
  /** The change log and commit announcements behind feeds and live queries. */
  live: { log: ChangeLog; hub: CommitHub };
  /** Cursors, presence and cache entries (never SQLite). */
  memory: MemoryStore;
  /** High-frequency values, persisted at most once per interval per key. */
  debounced: DebouncedWriter;
  /** Replication to the D1 replica. */
  sync: SyncEngine;
  /**
   * Set only when the Worker serves a replica read: the room's replica rows and
   * the fallback into the room. Null inside the room.
   */
  replicaAccess: ReplicaAccess | null;
  /** The calling WebSocket, when there is one (not for service calls). */
  socket: { remember(state: RememberedState): void } | null;
  /** Read-only SQL over the room's readable tables. */
  sql: ReadOnlySql;
}
