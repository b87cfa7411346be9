import assert from "node:assert/strict";
import type { SparseRows } from "../sae/matrix.ts";
import { contrastFeatures, meanCodes } from "./search_contrast.ts";

function sparse(width: number, rows: [number, number][][]): SparseRows {
  return {
    width,
    indices: rows.map((r) => Int32Array.from(r.map(([f]) => f))),
    values: rows.map((r) => Float32Array.from(r.map(([, v]) => v))),
  };
}

// Positive rows (dense over 5 features): [2,0,1,0,0] [4,0,0,0,1] [0,0,2,0,0]
// means [2, 0, 1, 0, 1/3]; negative rows [0,0,1,3,0] [1,0,0,1,0]: means [0.5, 0, 0.5, 2, 0].
// Differences by hand: [1.5, 0, 0.5, -2, 1/3].
const positive = sparse(5, [[[0, 2], [2, 1]], [[0, 4], [4, 1]], [[2, 2]]]);
const negative = sparse(5, [[[3, 3], [2, 1]], [[0, 1], [3, 1]]]);

Deno.test("mean codes count silent rows as zero", () => {
  assert.deepEqual([...meanCodes(positive)].map((v) => +v.toFixed(6)), [2, 0, 1, 0, 0.333333]);
  assert.deepEqual([...meanCodes(negative)], [0.5, 0, 0.5, 2, 0]);
});

Deno.test("features rank by mean difference, as computed by hand", () => {
  const r = contrastFeatures(positive, negative, { top: 10, both: true });
  assert.deepEqual(r.positive.map((h) => h.feature), [0, 2, 4]);
  assert.deepEqual(r.positive.map((h) => +h.difference.toFixed(6)), [1.5, 0.5, 0.333333]);
  assert.deepEqual(r.positive[0], {
    feature: 0,
    positiveMean: 2,
    negativeMean: 0.5,
    difference: 1.5,
  });
  assert.deepEqual(r.negative.map((h) => [h.feature, h.difference]), [[3, -2]]);
  const one = contrastFeatures(positive, negative, { top: 1 });
  assert.deepEqual(one.positive.map((h) => h.feature), [0]);
  assert.deepEqual(one.negative, []);
  assert.throws(() => contrastFeatures(positive, sparse(4, []), { top: 1 }), RangeError);
});
