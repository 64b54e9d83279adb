/**
 * "Here now": this member's presence (name and role) is set whenever the
 * connection becomes live — the room drops it when a member's last socket
 * closes — and every PRESENCE_REFRESH_MS; everyone's comes from
 * `presence.watch` (a snapshot, then joins, updates and leaves).
 */
import { useMutation } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useEffect, useState } from "react";
import type { Member } from "./dev-token";
import { useTRPC } from "./trpc";

/** Presence lives 60 s in the room (PRESENCE_TTL_MS); refresh well before. */
const PRESENCE_REFRESH_MS = 20_000;

/** What this page puts in `presence.setPresence({ status })`. */
interface PresenceStatus {
  name: string;
  role: string;
}

function asStatus(value: unknown, userId: string): PresenceStatus {
  const status = (value ?? {}) as Partial<PresenceStatus>;
  return { name: typeof status.name === "string" ? status.name : userId, role: typeof status.role === "string" ? status.role : "?" };
}

export function PresenceList({ member, live }: { member: Member; live: boolean }) {
  const trpc = useTRPC();
  const [people, setPeople] = useState<ReadonlyMap<string, PresenceStatus>>(new Map());

  const watch = useSubscription(
    trpc.presence.watch.subscriptionOptions(undefined, {
      onData: (event) =>
        setPeople((before) => {
          if (event.type === "snapshot")
            return new Map(event.presence.map((entry) => [entry.userId, asStatus(entry.status, entry.userId)]));
          if (event.kind !== "presence") return before;
          const next = new Map(before);
          if (event.change === "join" || event.change === "update") next.set(event.userId, asStatus(event.value, event.userId));
          else next.delete(event.userId);
          return next;
        }),
    }),
  );

  const { mutate: share } = useMutation(trpc.presence.setPresence.mutationOptions({ meta: { action: "Sharing your presence" } }));
  useEffect(() => {
    if (!live) return;
    const send = () => share({ status: { name: member.name, role: member.role } });
    send();
    const refresh = setInterval(send, PRESENCE_REFRESH_MS);
    return () => clearInterval(refresh);
  }, [live, share, member.name, member.role]);

  const entries = [...people].sort(([a], [b]) => (a === member.sub ? -1 : b === member.sub ? 1 : a.localeCompare(b)));
  return (
    <section className="panel" aria-labelledby="people-title">
      <h2 id="people-title">
        Here now <span className="count">{entries.length}</span>
      </h2>
      {watch.error && <p className="error">Presence stopped updating: {watch.error.message}</p>}
      <ul className="people">
        {entries.map(([userId, status]) => (
          <li key={userId} className="person" data-user-id={userId}>
            <span className="person-name">
              {status.name}
              {userId === member.sub ? " (you)" : ""}
            </span>
            <span className="person-status">{status.role}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
