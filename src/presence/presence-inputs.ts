/**
 * Validated inputs of the presence and memory procedures. Values are any JSON
 * within the size limits; `userId` in a payload (the seed's examples send one)
 * is accepted only when it names the caller.
 */
import { z } from "zod";
import {
  DEFAULT_MEMORY_TTL_MS,
  MAX_CURSOR_BYTES,
  MAX_MEMORY_KEY_CHARS,
  MAX_MEMORY_TTL_MS,
  MAX_MEMORY_VALUE_BYTES,
  MAX_PRESENCE_BYTES,
  MAX_USER_ID_CHARS,
  MIN_MEMORY_TTL_MS,
} from "../lib/limits";

/** JSON of at most `maxBytes` (UTF-8, serialized). */
function jsonValue(field: string, maxBytes: number) {
  return z
    .json({ error: `${field} must be JSON (objects, arrays, strings, numbers, booleans, null)` })
    .refine((value) => new TextEncoder().encode(JSON.stringify(value)).byteLength <= maxBytes, {
      error: `${field} must be at most ${maxBytes} bytes as JSON`,
    });
}

/** The seed's payloads carry `userId`; it must be the caller's own (checked in the router). */
const userId = z.string().min(1).max(MAX_USER_ID_CHARS).optional();

export const setCursorInput = z.strictObject({ position: jsonValue("position", MAX_CURSOR_BYTES), userId });
export const setPresenceInput = z.strictObject({ status: jsonValue("status", MAX_PRESENCE_BYTES), userId });

/** Input of `presence.watch`: `lastEventId` is set when the room resumes the watch after waking. */
export const watchInput = z.strictObject({ lastEventId: z.string().max(32).nullish() }).optional();

const key = z
  .string()
  .min(1)
  .max(MAX_MEMORY_KEY_CHARS, { error: `key must be at most ${MAX_MEMORY_KEY_CHARS} characters` });

export const memorySetInput = z.strictObject({
  key,
  value: jsonValue("value", MAX_MEMORY_VALUE_BYTES),
  ttlMs: z
    .number()
    .int()
    .min(MIN_MEMORY_TTL_MS, { error: `ttlMs must be at least ${MIN_MEMORY_TTL_MS}` })
    .max(MAX_MEMORY_TTL_MS, { error: `ttlMs must be at most ${MAX_MEMORY_TTL_MS} (24 h)` })
    .default(DEFAULT_MEMORY_TTL_MS),
});

export const memoryKeyInput = z.strictObject({ key });
