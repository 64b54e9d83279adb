/**
 * Request rate limits: a token bucket per connection (a socket, or one user's
 * HTTP calls to a room). A bucket holds `requestBurst` tokens, refills at
 * `requestsPerSecond`, and each request takes one; a request that finds it
 * empty is answered TOO_MANY_REQUESTS without running. Buckets live in memory:
 * a room that wakes from hibernation starts them full (it slept because its
 * connections were idle).
 */
import { TRPCError } from "@trpc/server";
import type { RoomLimits } from "../protocol/room-limits";

export type RateLimits = Pick<RoomLimits, "requestsPerSecond" | "requestBurst">;

export class RequestBucket {
  #tokens: number;
  #at: number;

  constructor(
    private readonly limits: RateLimits,
    now = Date.now(),
  ) {
    this.#tokens = limits.requestBurst;
    this.#at = now;
  }

  /** Takes up to `wanted` tokens; returns how many were granted (the first requests run, the rest are refused). */
  take(wanted: number, now = Date.now()): number {
    const { requestsPerSecond, requestBurst } = this.limits;
    if (now > this.#at) {
      this.#tokens = Math.min(requestBurst, this.#tokens + ((now - this.#at) / 1000) * requestsPerSecond);
      this.#at = now;
    }
    const granted = Math.max(0, Math.min(wanted, Math.floor(this.#tokens)));
    this.#tokens -= granted;
    return granted;
  }

  /** True when the bucket is full again: nothing would be lost by forgetting it. */
  full(now = Date.now()): boolean {
    return this.#tokens + ((now - this.#at) / 1000) * this.limits.requestsPerSecond >= this.limits.requestBurst;
  }
}

/** The error a refused request is answered with. */
export function rateLimited(limits: RateLimits, what: string): TRPCError {
  return new TRPCError({
    code: "TOO_MANY_REQUESTS",
    message: `${what} may make at most ${limits.requestsPerSecond} requests per second (bursts of ${limits.requestBurst}); slow down and retry`,
  });
}

/**
 * Buckets by key (one per user for HTTP calls), at most `max` of them: when
 * full, buckets that have refilled are forgotten first, then the oldest.
 */
export class RequestBuckets {
  readonly #buckets = new Map<string, RequestBucket>();

  constructor(
    private readonly limits: RateLimits,
    private readonly max = 10_000,
  ) {}

  take(key: string, wanted: number, now = Date.now()): number {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= this.max) this.#evict(now);
      this.#buckets.set(key, (bucket = new RequestBucket(this.limits, now)));
    }
    return bucket.take(wanted, now);
  }

  #evict(now: number): void {
    for (const [key, bucket] of this.#buckets) if (bucket.full(now)) this.#buckets.delete(key);
    if (this.#buckets.size >= this.max) this.#buckets.delete(this.#buckets.keys().next().value!);
  }
}
