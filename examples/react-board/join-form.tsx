/** The join form: a name, a room and a role; the page then mints a development token for them. */
import { useState, type FormEvent } from "react";
import type { Role } from "../../src/client";
import { ROLES, userIdFor, type Member } from "./dev-token";

export function JoinForm({ problem, onJoin }: { problem: string | null; onJoin(member: Member): void }) {
  const [name, setName] = useState("");
  const [room, setRoom] = useState("demo");
  const [role, setRole] = useState<Role>("writer");

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (name.trim() && room.trim()) onJoin({ name: name.trim(), sub: userIdFor(name), room: room.trim(), role });
  };

  return (
    <main className="panel join">
      <h1>nanotypeDB — React task board</h1>
      <form onSubmit={onSubmit}>
        <label htmlFor="join-name">Your name</label>
        <input id="join-name" autoFocus required maxLength={64} value={name} onChange={(event) => setName(event.target.value)} />
        <label htmlFor="join-room">Room</label>
        <input id="join-room" required maxLength={128} value={room} onChange={(event) => setRoom(event.target.value)} />
        <label htmlFor="join-role">Role</label>
        <select id="join-role" value={role} onChange={(event) => setRole(event.target.value as Role)}>
          {ROLES.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
        <button type="submit" className="primary">
          Join room
        </button>
        {problem && (
          <p className="error" role="alert">
            {problem}
          </p>
        )}
      </form>
      <p className="hint">
        Tokens come from the development token route (<code>POST /dev/token</code>), which only <code>npm run dev</code> enables.
      </p>
    </main>
  );
}
