/**
 * Reads the request ids of a frame too large to parse, so that its callers are
 * told why it was refused (the WebSocket adapter answers each one with
 * PAYLOAD_TOO_LARGE before closing the socket) instead of seeing the socket
 * drop. Internal to src/transport.
 *
 * A bounded linear scan: strings are skipped with `indexOf`, no value of the
 * frame is built, and it stops after OVERSIZE_FRAME_SCAN_STEPS structural
 * characters or `max` ids, whichever comes first.
 */
import type { RequestId } from "../protocol/seed-frames";

/** Most requests of one oversize frame answered (each answer is a frame sent back). */
export const MAX_OVERSIZE_FRAME_ANSWERS = 1_000;

/** Most structural characters (`"{}[]`) the scan visits: bounds its CPU whatever the frame holds. */
const OVERSIZE_FRAME_SCAN_STEPS = 100_000;

/** A request found in an oversize frame. */
export interface ScannedRequest {
  id: RequestId;
  jsonrpc: "2.0" | undefined;
}

/** `:` then a JSON number or a short JSON string, right after a key (sticky). */
const VALUE = /\s*:\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.){0,256}")/y;
const STRUCTURAL = /["{}[\]]/g;

/**
 * The ids of the top-level requests of `text` (one request object or an array
 * of them), in order, at most `max`. `subscription.stop` requests are left out:
 * answering them would end the subscription they name with an error.
 */
export function scanRequestIds(text: string, max: number): ScannedRequest[] {
  const found: ScannedRequest[] = [];
  const requestDepth = text.trimStart().startsWith("[") ? 2 : 1;
  let depth = 0;
  let current: { id?: RequestId; jsonrpc?: "2.0"; stop?: boolean } | null = null;
  const finish = () => {
    if (current?.id !== undefined && !current.stop) found.push({ id: current.id, jsonrpc: current.jsonrpc });
    current = null;
  };
  STRUCTURAL.lastIndex = 0;
  for (let steps = 0; steps < OVERSIZE_FRAME_SCAN_STEPS && found.length < max; steps += 1) {
    const match = STRUCTURAL.exec(text);
    if (!match) break;
    const at = match.index;
    const char = match[0];
    if (char === '"') {
      const end = endOfString(text, at);
      if (end < 0) break;
      STRUCTURAL.lastIndex = end + 1;
      if (depth !== requestDepth || current === null) continue;
      const key = end - at <= 8 ? text.slice(at + 1, end) : null;
      if (key !== "id" && key !== "jsonrpc" && key !== "method") continue;
      VALUE.lastIndex = end + 1;
      const value = VALUE.exec(text);
      if (!value) continue;
      const parsed = JSON.parse(value[1]!) as unknown;
      if (key === "id" && (typeof parsed === "string" || (typeof parsed === "number" && Number.isFinite(parsed)))) current.id = parsed;
      if (key === "jsonrpc" && parsed === "2.0") current.jsonrpc = "2.0";
      if (key === "method" && parsed === "subscription.stop") current.stop = true;
      STRUCTURAL.lastIndex = VALUE.lastIndex;
    } else if (char === "{" || char === "[") {
      depth += 1;
      if (char === "{" && depth === requestDepth) current = {};
    } else {
      if (depth === requestDepth) finish();
      depth -= 1;
    }
  }
  // A request cut off by the scan's bounds still has its id.
  if (found.length < max) finish();
  return found;
}

/** The index of the quote closing the string that opens at `start`, or -1. */
function endOfString(text: string, start: number): number {
  let at = start;
  while (true) {
    at = text.indexOf('"', at + 1);
    if (at < 0) return -1;
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === 92) backslashes += 1;
    if (backslashes % 2 === 0) return at;
  }
}
