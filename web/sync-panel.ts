/**
 * The sync panel: the D1 replica's health, lag and pending changes from
 * `sync.status` (polled every SYNC_POLL_MS while connected, never two at a
 * time), and a forced full resync for admins (`sync.forceSyncAll`).
 */
import { byId, formatDuration } from "./dom";
import { attempt, notify } from "./notices";
import type { Session } from "./session";

const SYNC_POLL_MS = 2_000;

export function mountSyncPanel(session: Session): () => void {
  const { client, member } = session;
  const health = byId("sync-health");
  const fields = {
    lag: byId("sync-lag"),
    pending: byId("sync-pending"),
    seq: byId("sync-seq"),
    last: byId("sync-last"),
    errors: byId("sync-errors"),
  };
  const button = byId<HTMLButtonElement>("sync-force");
  const isAdmin = member.role === "admin";
  button.disabled = !isAdmin;
  byId("sync-note").hidden = isAdmin;
  let inFlight = false;

  const refresh = async () => {
    if (inFlight || !session.isLive) return;
    inFlight = true;
    try {
      const status = await client.sync.status.query();
      health.textContent = status.isHealthy ? "Healthy" : status.replicaAvailable ? "Behind" : "Replica unavailable";
      health.dataset["health"] = status.isHealthy ? "ok" : "bad";
      fields.lag.textContent = formatDuration(status.lagMs);
      fields.pending.textContent = String(status.pendingChanges);
      fields.seq.textContent = `${status.replicatedSeq} of ${status.roomSeq}`;
      fields.last.textContent = status.lastSyncAge === null ? "never" : `${formatDuration(status.lastSyncAge)} ago`;
      fields.errors.textContent = `${status.syncErrors} (${status.errorRate})${status.lastError ? ` — ${status.lastError}` : ""}`;
    } catch {
      health.textContent = "Unknown (no answer)";
      health.dataset["health"] = "unknown";
    } finally {
      inFlight = false;
    }
  };

  const onForce = async () => {
    button.disabled = true;
    button.textContent = "Resyncing…";
    const answer = await attempt("The forced resync", () => client.sync.forceSyncAll.mutate());
    button.textContent = "Force full resync";
    button.disabled = !isAdmin;
    const outcome = answer?.outcome;
    if (outcome)
      notify(
        `Replica rewritten: ${outcome.upserted} rows written, ${outcome.deleted} removed, in ${formatDuration(outcome.elapsedMs)}.`,
        "info",
      );
    else if (answer) notify("Replica resync: nothing to do.", "info");
    await refresh();
  };
  button.addEventListener("click", onForce);
  const poll = setInterval(() => void refresh(), SYNC_POLL_MS);
  const stopWatching = session.onConnection((info) => info.state === "live" && void refresh());
  return () => {
    clearInterval(poll);
    stopWatching();
    button.removeEventListener("click", onForce);
  };
}
