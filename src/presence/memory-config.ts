/**
 * Reads the memory store's configurable TTLs from the room's environment
 * (CURSOR_TTL_MS, PRESENCE_TTL_MS). Out-of-range or malformed values are
 * ignored with a logged warning, falling back to the documented defaults.
 */
import { MAX_MEMORY_TTL_MS, MIN_MEMORY_TTL_MS } from "../lib/limits";
import { DEFAULT_MEMORY_LIMITS, type MemoryLimits } from "./memory-store";

export function memoryLimitsFrom(env: Record<string, unknown>): MemoryLimits {
  return {
    ...DEFAULT_MEMORY_LIMITS,
    cursorTtlMs: ttl(env, "CURSOR_TTL_MS", DEFAULT_MEMORY_LIMITS.cursorTtlMs),
    presenceTtlMs: ttl(env, "PRESENCE_TTL_MS", DEFAULT_MEMORY_LIMITS.presenceTtlMs),
  };
}

function ttl(env: Record<string, unknown>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < MIN_MEMORY_TTL_MS || value > MAX_MEMORY_TTL_MS) {
    console.warn(`${name}=${String(raw)} is not an integer from ${MIN_MEMORY_TTL_MS} to ${MAX_MEMORY_TTL_MS}; using ${fallback}`);
    return fallback;
  }
  return value;
}
