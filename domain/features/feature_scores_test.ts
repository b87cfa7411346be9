import assert from "node:assert/strict";
import { SaeError } from "../errors.ts";
import { featureStats, inputScore, outputScore, steeringVector } from "./feature_scores.ts";
import type { SparseRows } from "../sae/matrix.ts";

const codes: SparseRows = {
  width: 4,
  indices: [
    Int32Array.from([1, 2]),
    Int32Array.from([1]),
    Int32Array.from([]),
    Int32Array.from([2, 1]),
  ],
  values: [
    Float32Array.from([3, 1]),
    Float32Array.from([5]),
    Float32Array.from([]),
    Float32Array.from([2, 1]),
  ],
};

Deno.test("outputScore: ranks from 0 with ties sharing the better rank; score formula", () => {
  const logits = [1, 3, 3, 0, 2];
  const s = outputScore(logits, [2, 4]);
  // token 2 ties token 1 for the top logit: rank 0.
  assert.equal(s.minRank, 0);
  const z = logits.reduce((t, v) => t + Math.exp(v), 0);
  assert.ok(Math.abs(s.maxProb - Math.exp(3) / z) < 1e-12);
  assert.ok(Math.abs(s.score - (1 - 0 / 5) * s.maxProb) < 1e-12);
  assert.equal(outputScore(logits, [3]).minRank, 4);
});

Deno.test("inputScore: per example max row, ranked by activation, fraction with a lens token", () => {
  const s = inputScore(codes, {
    feature: 1,
    tokenIds: [10, 11, 12, 13],
    exampleIds: [0, 0, 1, 1],
    lensIds: [11],
  });
  // Example 0: rows 0 (3) and 1 (5) -> max at row 1, token 11 (hit). Example 1: row 3 (1), token 13 (miss).
  assert.deepEqual(s.examples.map((e) => [e.exampleId, e.tokenId, e.activation]), [[0, 11, 5], [
    1,
    13,
    1,
  ]]);
  assert.equal(s.score, 0.5);
  assert.deepEqual(
    inputScore(codes, {
      feature: 3,
      tokenIds: [0, 0, 0, 0],
      exampleIds: [0, 1, 2, 3],
      lensIds: [0],
    }),
    {
      score: 0,
      examples: [],
    },
  );
});

Deno.test("featureStats: density, mean over all rows, max and top rows", () => {
  const [f1, f2] = featureStats(codes, { tokenIds: [7, 8, 9, 6], topRows: 2 });
  assert.deepEqual([f1.feature, f1.density, f1.mean, f1.max], [1, 0.75, 9 / 4, 5]);
  assert.deepEqual(f1.topRows, [{ row: 1, activation: 5, tokenId: 8 }, {
    row: 0,
    activation: 3,
    tokenId: 7,
  }]);
  assert.equal(f2.feature, 2);
});

Deno.test("steeringVector: features that cancel cannot be normalized", () => {
  const directions = new Map([[3, Float32Array.from([0.6, 0.8])]]);
  const norms = new Map([[3, 2]]);
  const cancel = [{ feature: 3, strength: 1 }, { feature: 3, strength: -1 }];
  assert.deepEqual([...steeringVector(cancel, { directions, norms })], [0, 0]);
  assert.throws(
    () => steeringVector(cancel, { directions, norms, normalize: true }),
    (e: unknown) => e instanceof SaeError && e.kind === "invalid" && /cancel/.test(e.message),
  );
});

Deno.test("steeringVector: activation units use decoder norms; norm units and normalize", () => {
  const directions = new Map([[0, Float32Array.from([1, 0])], [1, Float32Array.from([0, 1])]]);
  const norms = new Map([[0, 2], [1, 0.5]]);
  const features = [{ feature: 0, strength: 1 }, { feature: 1, strength: 4 }];
  assert.deepEqual([...steeringVector(features, { directions, norms })], [2, 2]);
  assert.deepEqual([...steeringVector(features, { directions, norms, unit: "norm" })], [1, 4]);
  const n = steeringVector(features, { directions, norms, normalize: true });
  assert.ok(Math.abs(n[0] - Math.SQRT1_2) < 1e-6 && Math.abs(n[1] - Math.SQRT1_2) < 1e-6);
});
