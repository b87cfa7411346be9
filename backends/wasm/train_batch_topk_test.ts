/**
 * BatchTopK from per-row candidates against the reference selection over the whole flattened
 * batch (domain/sae/top_k.ts), ties included, and the rows reported for a larger cap.
 * @module
 */

import assert from "node:assert/strict";
import { uniformArray } from "../../domain/random.ts";
import { topK } from "../../domain/sae/top_k.ts";
import { batchTopK, type RowCandidates } from "./train_batch_topk.ts";

/** Each row's `cap` best h > 0 (index ascending), as the fused encode keeps them. */
function candidates(h: Float32Array, rows: number, n: number, cap: number): RowCandidates[] {
  return Array.from({ length: rows }, (_, r) => {
    const row = h.subarray(r * n, (r + 1) * n);
    const best = topK(row, cap, { keep: (v) => v > 0 });
    const idx = Int32Array.from(best.indices).sort();
    return { idx, vals: Float32Array.from(idx, (i) => row[i]), full: best.indices.length === cap };
  });
}

/** The reference: the batch's `total` largest h > 0 by flat index, grouped by row. */
function reference(h: Float32Array, rows: number, n: number, total: number): number[][] {
  const flat = topK(h, total, { keep: (v) => v > 0 });
  const out: number[][] = Array.from({ length: rows }, () => []);
  for (const at of flat.indices) out[Math.floor(at / n)].push(at % n);
  return out.map((r) => r.sort((a, b) => a - b));
}

Deno.test("batchTopK: the batch's largest candidates, ties by flat index, like the reference", () => {
  const [rows, n, k] = [9, 17, 3];
  const h = uniformArray(rows * n, 1);
  // Ties at every level: values rounded to a coarse grid.
  for (let i = 0; i < h.length; i++) h[i] = Math.round(h[i] * 8) / 8;
  const got = batchTopK(candidates(h, rows, n, n), rows * k);
  assert.deepEqual(got.incomplete, []);
  const want = reference(h, rows, n, rows * k);
  got.rows.forEach((r, b) => assert.deepEqual([...r.idx], want[b], `row ${b}`));
  const values = got.rows.flatMap((r) => [...r.vals]);
  assert.equal(values.length, rows * k);
  assert.equal(got.minSelected, Math.min(...values));
});

Deno.test("batchTopK: rows that may hold more than their candidates are reported; with them widened, the reference's", () => {
  const [rows, n, k, cap] = [6, 40, 2, 4];
  const h = uniformArray(rows * n, 2, { scale: 0.5 });
  // Row 2 dominates the batch: most of the batch's 12 largest are in it.
  for (let j = 0; j < n; j++) h[2 * n + j] = 3 + j / n;
  const rowsCandidates = candidates(h, rows, n, cap);
  let got = batchTopK(rowsCandidates, rows * k);
  assert.ok(got.incomplete.includes(2));
  let rounds = 0;
  while (got.incomplete.length > 0) {
    // As the objective does: encode those rows again with a larger cap (here: every column).
    for (const b of got.incomplete) rowsCandidates[b] = candidates(h, rows, n, n)[b];
    got = batchTopK(rowsCandidates, rows * k);
    rounds++;
  }
  assert.equal(rounds, 1);
  const want = reference(h, rows, n, rows * k);
  got.rows.forEach((r, b) => assert.deepEqual([...r.idx], want[b], `row ${b}`));
  assert.equal(got.rows[2].idx.length, rows * k);
});

Deno.test("batchTopK: fewer positive candidates than the budget selects them all", () => {
  const h = Float32Array.from([-1, 2, 0, -3, 0.5, 0, 0, -1]);
  const got = batchTopK(candidates(h, 2, 4, 4), 8);
  assert.deepEqual(got.rows.map((r) => [...r.idx]), [[1], [0]]);
  assert.equal(got.minSelected, 0.5);
  assert.deepEqual(batchTopK(candidates(h, 2, 4, 4), 0).rows.map((r) => r.idx.length), [0, 0]);
});
