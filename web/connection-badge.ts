/** Shows the connection state (connecting / live / reconnecting) in the header; an aria-live status. */
import { byId } from "./dom";
import type { Session } from "./session";

const LABELS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…" } as const;

export function mountConnectionBadge(session: Session): () => void {
  const badge = byId("connection");
  const stop = session.onConnection(({ state, reconnects, problem }) => {
    badge.dataset["state"] = state;
    const resumed = state === "live" && reconnects > 0 ? ` (resumed after ${reconnects} drop${reconnects === 1 ? "" : "s"})` : "";
    badge.textContent = `${LABELS[state]}${resumed}${problem && state !== "live" ? ` — ${problem}` : ""}`;
  });
  return () => {
    stop();
    badge.dataset["state"] = "idle";
    badge.textContent = "Not connected";
  };
}
