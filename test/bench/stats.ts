/**
 * Percentiles and medians for the benchmark suite (test/bench/run.ts). Pure
 * functions; latencies are milliseconds.
 */

/** Percentiles of one run of a latency scenario. */
export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
  count: number;
}

/** Nearest-rank percentiles of `samples` (unsorted). */
export function percentiles(samples: ArrayLike<number>): Percentiles {
  const sorted = Float64Array.from(samples).sort();
  if (sorted.length === 0) return { p50: NaN, p90: NaN, p99: NaN, mean: NaN, min: NaN, max: NaN, count: 0 };
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    mean: sum / sorted.length,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    count: sorted.length,
  };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median of each percentile over repeated runs (repeats damp the noise of a shared machine). */
export function medianOfRuns(runs: readonly Percentiles[]): Percentiles {
  const pick = (key: keyof Percentiles) => median(runs.map((run) => run[key]));
  return {
    p50: pick("p50"),
    p90: pick("p90"),
    p99: pick("p99"),
    mean: pick("mean"),
    min: Math.min(...runs.map((run) => run.min)),
    max: Math.max(...runs.map((run) => run.max)),
    count: runs.reduce((sum, run) => sum + run.count, 0),
  };
}
