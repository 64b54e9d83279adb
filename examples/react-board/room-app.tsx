/**
 * The room's screen once joined: the connection badge and who you are, the
 * error notices, the board and who is here. The room client's connection
 * state drives the badge and when presence is (re)sent.
 */
import { useLiveQuery, useRoomConnection } from "../../src/client/react";
import { Board } from "./board";
import { BOARD_INPUT } from "./board-query";
import { useNotices, type NoticeStore } from "./notices";
import type { Member } from "./dev-token";
import { PresenceList } from "./presence-list";
import { useTRPC, useTRPCClient } from "./trpc";

const BADGE = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", closed: "Closed" } as const;

function Notices({ store }: { store: NoticeStore }) {
  const notices = useNotices(store);
  return (
    <ul className="notices" role="alert" aria-live="assertive">
      {notices.map((notice) => (
        <li key={notice.id} className="notice notice-error">
          <span>{notice.message}</span>
          <button type="button" className="link" aria-label="Dismiss" onClick={() => store.dismiss(notice.id)}>
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}

/**
 * How many tasks the board holds, in the header. It asks for the same live
 * query as the board (same procedure, same input): the two components share one
 * subscription and one cache entry, so the room counts one.
 */
function TaskCount() {
  const trpc = useTRPC();
  const { data } = useLiveQuery(trpc.tasks.live, BOARD_INPUT);
  if (!data) return null;
  return (
    <p className="task-count" aria-label="Tasks on the board">
      {data.length} {data.length === 1 ? "task" : "tasks"}
    </p>
  );
}

export function RoomApp({ member, notices, onLeave }: { member: Member; notices: NoticeStore; onLeave(): void }) {
  const trpc = useTRPC();
  const board = useLiveQuery(trpc.tasks.live, BOARD_INPUT);
  const connection = useRoomConnection(useTRPCClient());

  return (
    <>
      <header className="top">
        <h1>
          nanotypeDB <span className="subtitle">React task board</span>
        </h1>
        <TaskCount />
        <p id="connection" className="connection" role="status" aria-live="polite" data-state={connection.status}>
          {BADGE[connection.status]}
        </p>
        <div className="whoami">
          <span>
            <strong>{member.name}</strong> ({member.role}) in room <strong>{member.room}</strong>
          </span>
          <button type="button" onClick={onLeave}>
            Leave
          </button>
        </div>
      </header>
      <Notices store={notices} />
      {board.status === "error" && (
        <p className="error" role="alert">
          The board stopped updating: {board.error instanceof Error ? board.error.message : String(board.error)}. Reload the page to retry.
        </p>
      )}
      <main className="app">
        <Board tasks={board.data} member={member} />
        <aside className="side" aria-label="Room">
          <PresenceList member={member} live={connection.status === "live"} />
        </aside>
      </main>
    </>
  );
}
