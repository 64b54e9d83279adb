/**
 * Live cursors over the board. This page sends its pointer position as
 * fractions of the board's size (so screens of any width agree) at most
 * CURSOR_SENDS_PER_SECOND, plus `{ away: true }` when the pointer leaves;
 * other members' cursors arrive through presence.watch (presence-panel.ts).
 */
import { colorFor, h } from "./dom";
import type { Session } from "./session";

const CURSOR_SENDS_PER_SECOND = 30;

/** What this page puts in `presence.setCursor({ position })`. */
type CursorPosition = { x: number; y: number } | { away: true };

function asPosition(value: unknown): { x: number; y: number } | null {
  const position = value as { x?: unknown; y?: unknown } | null;
  if (typeof position?.x !== "number" || typeof position.y !== "number") return null;
  return { x: Math.min(1, Math.max(0, position.x)), y: Math.min(1, Math.max(0, position.y)) };
}

export class CursorsLayer {
  readonly #layer: HTMLElement;
  readonly #cursors = new Map<string, HTMLElement>();
  #names: ReadonlyMap<string, string> = new Map();
  readonly #dispose: () => void;

  constructor(
    private readonly session: Session,
    private readonly board: HTMLElement,
  ) {
    this.#layer = h("div", { class: "cursors", "aria-hidden": "true" });
    board.appendChild(this.#layer);

    let pending: CursorPosition | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let lastSentAt = 0;
    const flush = () => {
      timer = null;
      if (!pending || !session.isLive) return;
      const position = pending;
      pending = null;
      lastSentAt = performance.now();
      // A lost cursor update is harmless (the next one replaces it): no error notice.
      session.client.presence.setCursor.mutate({ position }).catch(() => {});
    };
    const queue = (position: CursorPosition) => {
      pending = position;
      const wait = 1000 / CURSOR_SENDS_PER_SECOND - (performance.now() - lastSentAt);
      if (wait <= 0) flush();
      else timer ??= setTimeout(flush, wait);
    };
    const onMove = (event: PointerEvent) => {
      const box = board.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) return;
      queue({ x: round((event.clientX - box.left) / box.width), y: round((event.clientY - box.top) / box.height) });
    };
    const onLeave = () => queue({ away: true });
    board.addEventListener("pointermove", onMove);
    board.addEventListener("pointerleave", onLeave);
    this.#dispose = () => {
      board.removeEventListener("pointermove", onMove);
      board.removeEventListener("pointerleave", onLeave);
      if (timer) clearTimeout(timer);
      this.#layer.remove();
    };
  }

  /** Replaces every cursor (a presence snapshot). */
  reset(cursors: Array<{ userId: string; position: unknown }>): void {
    for (const element of this.#cursors.values()) element.remove();
    this.#cursors.clear();
    for (const { userId, position } of cursors) this.apply(userId, position);
  }

  /** Moves one member's cursor; a null or `{ away }` position hides it. */
  apply(userId: string, value: unknown): void {
    if (userId === this.session.member.sub) return;
    const position = asPosition(value);
    let element = this.#cursors.get(userId);
    if (!position) {
      element?.remove();
      this.#cursors.delete(userId);
      return;
    }
    if (!element) {
      element = h(
        "div",
        { class: "cursor", "data-user-id": userId, style: `--cursor-color:${colorFor(userId)}` },
        h("span", { class: "cursor-arrow" }),
        h("span", { class: "cursor-name" }, this.#names.get(userId) ?? userId),
      );
      this.#cursors.set(userId, element);
      this.#layer.appendChild(element);
    }
    element.style.left = `${(position.x * 100).toFixed(2)}%`;
    element.style.top = `${(position.y * 100).toFixed(2)}%`;
  }

  /** Display names by user id (from presence), for the cursor labels. */
  setNames(names: ReadonlyMap<string, string>): void {
    this.#names = names;
    for (const [userId, element] of this.#cursors) {
      const label = element.querySelector(".cursor-name");
      if (label) label.textContent = names.get(userId) ?? userId;
    }
  }

  dispose(): void {
    this.#dispose();
  }
}

function round(fraction: number): number {
  return Math.round(Math.min(1, Math.max(0, fraction)) * 10_000) / 10_000;
}
