/** Validated inputs of the debounced procedures. Values are any JSON up to 100 KB. */
import { z } from "zod";
import { MAX_DEBOUNCE_INTERVAL_MS, MAX_DEBOUNCED_KEY_CHARS, MAX_DEBOUNCED_VALUE_BYTES, MIN_DEBOUNCE_INTERVAL_MS } from "../lib/limits";

const key = z
  .string({ error: "key must be a string" })
  .min(1, { error: "key must not be empty" })
  .max(MAX_DEBOUNCED_KEY_CHARS, { error: `key must be at most ${MAX_DEBOUNCED_KEY_CHARS} characters` });

const value = z
  .json({ error: "value must be JSON" })
  .refine((json) => new TextEncoder().encode(JSON.stringify(json)).byteLength <= MAX_DEBOUNCED_VALUE_BYTES, {
    error: `value must be at most ${MAX_DEBOUNCED_VALUE_BYTES} bytes as JSON`,
  });

export const updateDebouncedInput = z.strictObject({
  key,
  value,
  /** This key's flush interval from now on. */
  intervalMs: z
    .number()
    .int()
    .min(MIN_DEBOUNCE_INTERVAL_MS, { error: `intervalMs must be at least ${MIN_DEBOUNCE_INTERVAL_MS}` })
    .max(MAX_DEBOUNCE_INTERVAL_MS, { error: `intervalMs must be at most ${MAX_DEBOUNCE_INTERVAL_MS}` })
    .optional(),
});

/** `flushDebounced` with no payload (the seed's example) flushes every key. */
export const flushDebouncedInput = z.strictObject({ key: key.optional() }).optional();

export const debouncedKeyInput = z.strictObject({ key });

export const debouncedWatchInput = z.strictObject({ lastEventId: z.string().max(32).nullish() }).optional();
