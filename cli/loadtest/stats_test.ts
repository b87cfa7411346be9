/**
 * The load test's statistics: nearest-rank percentiles, half-open histogram buckets, the
 * log-spaced latency edges and the phase summary.
 * @module
 */

import assert from "node:assert/strict";
import {
  histogram,
  LATENCY_EDGES_MS,
  logEdges,
  percentile,
  round,
  summarizeLatencies,
} from "./stats.ts";

Deno.test("percentile: nearest rank over a sorted array", () => {
  const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(percentile(xs, 50), 5);
  assert.equal(percentile(xs, 95), 10);
  assert.equal(percentile(xs, 10), 1);
  assert.equal(percentile(xs, 0), 1);
  assert.equal(percentile(xs, 100), 10);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.throws(() => percentile(xs, 101), RangeError);
});

Deno.test("histogram: half-open buckets, out-of-range values clamped to the ends", () => {
  assert.deepEqual(histogram([0.01, 1, 1.5, 2, 9.99, 10, 50], [1, 2, 5, 10]), [3, 1, 3]);
  assert.deepEqual(histogram([], [1, 2]), [0]);
  assert.equal(LATENCY_EDGES_MS[0], 0.1);
  assert.equal(LATENCY_EDGES_MS[LATENCY_EDGES_MS.length - 1], 10_000);
  const counts = histogram([0.2, 3, 3, 40, 9000], LATENCY_EDGES_MS);
  assert.equal(counts.length, LATENCY_EDGES_MS.length - 1);
  assert.equal(counts.reduce((a, b) => a + b, 0), 5);
});

Deno.test("logEdges: log-spaced, both ends included, rounded to 6 decimals", () => {
  assert.deepEqual(logEdges(1, 100, { perDecade: 2 }), [1, 3.162278, 10, 31.622777, 100]);
  assert.deepEqual(logEdges(0.1, 1, { perDecade: 1 }), [0.1, 1]);
  assert.equal(LATENCY_EDGES_MS.length, 51);
  for (let i = 1; i < LATENCY_EDGES_MS.length; i++) {
    assert.ok(LATENCY_EDGES_MS[i] > LATENCY_EDGES_MS[i - 1]);
  }
  assert.equal(round(1.23456, 2), 1.23);
});

Deno.test("summarizeLatencies: percentiles of unsorted input, mean, histogram; nulls when empty", () => {
  const xs = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
  const { latencyMs, histogram: counts } = summarizeLatencies(xs);
  assert.deepEqual(latencyMs, { p50: 5, p95: 10, p99: 10, max: 10, mean: 5.5 });
  assert.equal(counts.reduce((a, b) => a + b, 0), 10);
  assert.equal(counts[LATENCY_EDGES_MS.indexOf(1)], 1, "1 ms lands in the bucket starting at 1");
  assert.deepEqual(summarizeLatencies([0.12345]).latencyMs.p50, 0.123);
  const empty = summarizeLatencies([]);
  assert.deepEqual(empty.latencyMs, { p50: null, p95: null, p99: null, max: null, mean: null });
  assert.ok(empty.histogram.every((c) => c === 0));
});
