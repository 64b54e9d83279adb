/**
 * "Who is here": this member's presence (name, role, activity) is set on
 * join, after every reconnect and every PRESENCE_REFRESH_MS (the room forgets
 * it after 60 s without one), and everyone's comes from `presence.watch`,
 * which also feeds the cursors layer.
 */
import type { CursorsLayer } from "./cursors-layer";
import { byId, colorFor, h } from "./dom";
import { attempt } from "./notices";
import type { Session } from "./session";

/** Presence lives 60 s in the room (PRESENCE_TTL_MS); refresh well before. */
const PRESENCE_REFRESH_MS = 20_000;

/** What this page puts in `presence.setPresence({ status })`. */
export interface PresenceStatus {
  name: string;
  role: string;
  activity: "viewing" | "editing" | "away";
}

function asStatus(value: unknown, userId: string): PresenceStatus {
  const status = (value ?? {}) as Partial<PresenceStatus>;
  return { name: typeof status.name === "string" ? status.name : userId, role: status.role ?? "?", activity: status.activity ?? "viewing" };
}

/** Keeps `names` (user id → display name) up to date for the other panels. */
export function mountPresence(session: Session, cursors: CursorsLayer, names: Map<string, string>): () => void {
  const { client, member } = session;
  const list = byId<HTMLUListElement>("people");
  const people = new Map<string, PresenceStatus>();
  let activity: PresenceStatus["activity"] = document.hidden ? "away" : "viewing";
  let lastSent = "";

  const send = async (force = false) => {
    const status: PresenceStatus = { name: member.name, role: member.role, activity };
    const json = JSON.stringify(status);
    if (!force && json === lastSent) return;
    lastSent = json;
    await attempt("Sharing your presence", () => client.presence.setPresence.mutate({ status: { ...status } }));
  };
  const setActivity = (next: PresenceStatus["activity"]) => {
    activity = next;
    void send();
  };

  const render = () => {
    const entries = [...people.entries()].sort(([a], [b]) => (a === member.sub ? -1 : b === member.sub ? 1 : a.localeCompare(b)));
    list.replaceChildren(
      ...entries.map(([userId, status]) =>
        h(
          "li",
          { class: `person activity-${status.activity}`, "data-user-id": userId },
          h("span", { class: "dot", style: `background:${colorFor(userId)}`, "aria-hidden": "true" }),
          h("span", { class: "person-name" }, status.name, userId === member.sub ? " (you)" : ""),
          h("span", { class: "person-status" }, `${status.role} · ${status.activity}`),
        ),
      ),
    );
    byId("people-count").textContent = String(entries.length);
    for (const [userId, status] of people) names.set(userId, status.name);
    cursors.setNames(names);
  };

  const subscription = client.presence.watch.subscribe(undefined, {
    onData: (event) => {
      if (event.type === "snapshot") {
        people.clear();
        for (const entry of event.presence) people.set(entry.userId, asStatus(entry.status, entry.userId));
        cursors.reset(event.cursors.map((cursor) => ({ userId: cursor.userId, position: cursor.position })));
      } else if (event.kind === "presence") {
        if (event.change === "join" || event.change === "update") people.set(event.userId, asStatus(event.value, event.userId));
        else people.delete(event.userId);
      } else {
        cursors.apply(event.userId, event.change === "join" || event.change === "update" ? event.value : null);
      }
      render();
    },
    onError: (error) => list.replaceChildren(h("li", {}, `Presence stopped updating: ${error.message}`)),
  });

  // The room drops a member's presence when their last socket closes: set it again on every (re)connect.
  const stopWatching = session.onConnection((info) => info.state === "live" && void send(true));
  const refresh = setInterval(() => session.isLive && void send(true), PRESENCE_REFRESH_MS);
  const board = byId("board");
  const onFocusIn = (event: FocusEvent) => (event.target as HTMLElement).matches("input[type=text], textarea") && setActivity("editing");
  const onFocusOut = () => setActivity(document.hidden ? "away" : "viewing");
  const onVisibility = () => setActivity(document.hidden ? "away" : "viewing");
  board.addEventListener("focusin", onFocusIn);
  board.addEventListener("focusout", onFocusOut);
  document.addEventListener("visibilitychange", onVisibility);

  return () => {
    subscription.unsubscribe();
    stopWatching();
    clearInterval(refresh);
    board.removeEventListener("focusin", onFocusIn);
    board.removeEventListener("focusout", onFocusOut);
    document.removeEventListener("visibilitychange", onVisibility);
  };
}
