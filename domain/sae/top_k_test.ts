import assert from "node:assert/strict";
import { topK } from "./top_k.ts";

Deno.test("topK returns the k largest values sorted descending", () => {
  const r = topK(Float32Array.from([0.5, 3, -1, 2, 7, 0]), 3);
  assert.deepEqual(Array.from(r.indices), [4, 1, 3]);
  assert.deepEqual(Array.from(r.values), [7, 3, 2]);
});

Deno.test("topK breaks ties by the lower index, also at the k boundary", () => {
  const r = topK(Float32Array.from([1, 5, 2, 5, 2, 2]), 3);
  assert.deepEqual(Array.from(r.indices), [1, 3, 2]);
  const all = topK(Float32Array.from([2, 2, 2, 2]), 2);
  assert.deepEqual(Array.from(all.indices), [0, 1]);
});

Deno.test("topK with k beyond the length returns every entry and skips NaN", () => {
  const r = topK(Float32Array.from([1, NaN, 3]), 10);
  assert.deepEqual(Array.from(r.indices), [2, 0]);
});

Deno.test("topK keep filter drops rejected entries (non-zero selection)", () => {
  const r = topK(Float32Array.from([0, 4, 0, 1]), 4, { keep: (v) => v !== 0 });
  assert.deepEqual(Array.from(r.indices), [1, 3]);
});

Deno.test("topK agrees with a full sort on random rows", () => {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(rand() * 60);
    // Few distinct values so ties are common.
    const v = Float32Array.from({ length: n }, () => Math.floor(rand() * 6) - 2);
    const k = Math.floor(rand() * (n + 2));
    const expected = Array.from(v.keys()).sort((a, b) => v[b] - v[a] || a - b).slice(0, k);
    assert.deepEqual(Array.from(topK(v, k).indices), expected, `trial ${trial}`);
  }
});
