/**
 * Tiny DOM helpers for the demo page: element lookup by id and an element
 * builder. No framework: every panel owns a few elements and updates them.
 */

type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | null | undefined | EventListener>;

/** The element with `id`, or a clear error naming it (index.html and the code disagree). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

/**
 * Creates an element. Attributes starting with `on` become event listeners;
 * `false`/null/undefined attributes are left out; `true` sets an empty one.
 *
 * @example
 * h("button", { type: "button", onclick: () => save() }, "Save")
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else if (value !== false && value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      element.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    }
  }
  return element;
}

/** Formats a duration in ms for people: "120 ms", "3.4 s", "2 min". */
export function formatDuration(ms: number | null): string {
  if (ms === null) return "—";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** A stable colour for a user id, so each person keeps theirs on every screen. */
export function colorFor(userId: string): string {
  // FNV-1a, so ids that differ in one character ("tester-a", "tester-b") still get far-apart hues.
  let hash = 0x811c9dc5;
  for (const char of userId) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return `hsl(${hash % 360} 70% 42%)`;
}
