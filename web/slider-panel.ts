/**
 * A slider bound to one debounced key. Every movement is a `debounced.update`
 * (others see it at once through `debounced.watch`); letting go flushes. The
 * stats show what the debounced writer is for: many updates, few SQLite writes.
 */
import { byId } from "./dom";
import { attempt } from "./notices";
import type { Session } from "./session";

/** The room-wide key the slider is bound to. */
export const SLIDER_KEY = "demo:slider";
const STATS_POLL_MS = 2_000;
/** After this page moved the slider, remote echoes are ignored for this long (they would make it jump back). */
const LOCAL_GRACE_MS = 1_000;

/** `names` maps user ids to display names (kept by the presence panel). */
export function mountSlider(session: Session, names: ReadonlyMap<string, string>): () => void {
  const { client, member } = session;
  const slider = byId<HTMLInputElement>("slider");
  const output = byId<HTMLOutputElement>("slider-value");
  const movedBy = byId("slider-moved-by");
  const sentLabel = byId("stat-sent");
  const receivedLabel = byId("stat-received");
  const writesLabel = byId("stat-writes");
  const ratioLabel = byId("stat-ratio");
  const pendingLabel = byId("stat-pending");
  let sent = 0;
  let dragging = false;
  let lastLocalAt = -Infinity;
  let statsInFlight = false;

  slider.disabled = member.role === "reader";
  byId("slider-note").hidden = member.role !== "reader";

  const show = (value: unknown, by: string | null) => {
    if (typeof value !== "number") return;
    slider.value = String(value);
    output.value = String(value);
    movedBy.textContent = by ? (by === member.sub ? "moved by you" : `moved by ${names.get(by) ?? by}`) : "";
  };

  const refreshStats = async () => {
    if (statsInFlight || !session.isLive) return;
    statsInFlight = true;
    try {
      const stats = await client.debounced.stats.query();
      receivedLabel.textContent = String(stats.updatesReceived);
      writesLabel.textContent = String(stats.sqliteWrites);
      ratioLabel.textContent = stats.coalescingRatio === null ? "—" : `${stats.coalescingRatio.toFixed(1)} : 1`;
      pendingLabel.textContent = stats.pendingKeys === 0 ? "none" : `${stats.pendingKeys} key(s)`;
    } catch {
      // Stats are best effort; the next poll retries.
    } finally {
      statsInFlight = false;
    }
  };

  const onInput = () => {
    const value = Number(slider.value);
    output.value = slider.value;
    movedBy.textContent = "moved by you";
    lastLocalAt = performance.now();
    sent += 1;
    sentLabel.textContent = String(sent);
    void attempt("Moving the slider", () => client.debounced.update.mutate({ key: SLIDER_KEY, value }));
  };
  const onChange = async () => {
    await attempt("Saving the slider", () => client.debounced.flush.mutate({ key: SLIDER_KEY }));
    await refreshStats();
  };
  const onDown = () => (dragging = true);
  const onUp = () => (dragging = false);
  slider.addEventListener("input", onInput);
  slider.addEventListener("change", onChange);
  slider.addEventListener("pointerdown", onDown);
  window.addEventListener("pointerup", onUp);
  window.addEventListener("pointercancel", onUp);

  const subscription = client.debounced.watch.subscribe(undefined, {
    onData: (event) => {
      if (event.type === "flush") {
        if (event.keys.includes(SLIDER_KEY)) void refreshStats();
        return;
      }
      if (event.key !== SLIDER_KEY) return;
      // A deleted key keeps the slider where it is until the next update.
      if (event.type === "delete") return;
      if (dragging) return;
      if (event.updatedBy === member.sub && performance.now() - lastLocalAt < LOCAL_GRACE_MS) return;
      show(event.value, event.updatedBy);
    },
    onError: (error) => (movedBy.textContent = `The slider stopped updating: ${error.message}`),
  });

  // The current value on join, and again after a reconnect (updates made meanwhile were not seen).
  const load = async () => {
    const current = await attempt("Reading the slider", () => client.debounced.get.query({ key: SLIDER_KEY }));
    if (current && !dragging) show(current.value, current.updatedBy);
  };
  const stopWatching = session.onConnection((info) => info.state === "live" && void load().then(refreshStats));
  const poll = setInterval(() => void refreshStats(), STATS_POLL_MS);

  return () => {
    subscription.unsubscribe();
    stopWatching();
    clearInterval(poll);
    slider.removeEventListener("input", onInput);
    slider.removeEventListener("change", onChange);
    slider.removeEventListener("pointerdown", onDown);
    window.removeEventListener("pointerup", onUp);
    window.removeEventListener("pointercancel", onUp);
  };
}
