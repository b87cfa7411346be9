/**
 * The load test's statistics: nearest-rank percentiles, log-spaced latency histograms and the
 * latency summary of a phase.
 * @module
 */

/** Latency summary of one phase, in milliseconds (2xx responses only; null when none). */
export interface LatencySummary {
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  readonly mean: number | null;
}

/** `v` rounded to `digits` decimals. */
export function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Log-spaced edges from `min` to `max` inclusive, `perDecade` buckets per decade. */
export function logEdges(min: number, max: number, options: { perDecade: number }): number[] {
  const { perDecade } = options;
  const steps = Math.round(Math.log10(max / min) * perDecade);
  return Array.from({ length: steps + 1 }, (_, i) => round(min * 10 ** (i / perDecade), 6));
}

/** Latency histogram edges in ms: 10 log-spaced buckets per decade from 0.1 ms to 10 s. */
export const LATENCY_EDGES_MS: readonly number[] = logEdges(0.1, 10_000, { perDecade: 10 });

/** Nearest-rank percentile `p` (0..100) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is outside 0..100`);
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * Counts per bucket: bucket i holds [buckets[i], buckets[i+1]) for ascending edges `buckets`;
 * values below the first edge land in bucket 0, values at or past the last in the last bucket.
 */
export function histogram(latencies: Iterable<number>, buckets: readonly number[]): number[] {
  if (buckets.length < 2) throw new RangeError("histogram needs at least two edges");
  const counts = new Array<number>(buckets.length - 1).fill(0);
  for (const v of latencies) counts[bucketOf(v, buckets)]++;
  return counts;
}

function bucketOf(v: number, edges: readonly number[]): number {
  let lo = 0;
  let hi = edges.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (v >= edges[mid]) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The summary (p50, p95, p99, max, mean; 3 decimals) and the {@link LATENCY_EDGES_MS} histogram
 * of `latencies` in ms, in any order.
 */
export function summarizeLatencies(
  latencies: readonly number[],
): { latencyMs: LatencySummary; histogram: number[] } {
  const sorted = Float64Array.from(latencies).sort();
  const pick = (p: number): number | null => sorted.length ? round(percentile(sorted, p), 3) : null;
  return {
    latencyMs: {
      p50: pick(50),
      p95: pick(95),
      p99: pick(99),
      max: pick(100),
      mean: sorted.length ? round(sorted.reduce((a, b) => a + b, 0) / sorted.length, 3) : null,
    },
    histogram: histogram(sorted, LATENCY_EDGES_MS),
  };
}
