/**
 * The procedure context every transport builds: who is calling, in which room,
 * and the room's features. The room constructs it; procedures only read it.
 */
import type { Identity } from "../auth/identity";
import type { ChangeLog } from "../live/change-log";
import type { CommitHub } from "../live/commit-hub";
import type { RoomName } from "../lib/room-name";
import type { ReadOnlySql } from "../sql/read-only-sql";
import type { TaskStore } from "../tasks/task-store";

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
  /** Read-only SQL over the room's readable tables. */
  sql: ReadOnlySql;
}
