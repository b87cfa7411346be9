import assert from "node:assert/strict";
import { matrix } from "../sae/matrix.ts";
import { knnProba } from "./knn.ts";

const train = {
  x: matrix([4, 1], Float32Array.of(0, 1, 10, 11)),
  y: [0, 0, 1, 1],
};

Deno.test("knnProba: the share of positives among the k nearest training rows", () => {
  const test = matrix([3, 1], Float32Array.of(0.2, 10.6, 5.4));
  assert.deepEqual([...knnProba(train, test, { k: 1 })], [0, 1, 0]);
  assert.deepEqual([...knnProba(train, test, { k: 2 })], [0, 1, 0.5]);
  assert.deepEqual([...knnProba(train, test, { k: 3 })], [1 / 3, 2 / 3, 1 / 3]);
});

Deno.test("knnProba: k is clamped to the training rows; ties go to the lower index", () => {
  assert.deepEqual([...knnProba(train, matrix([1, 1], Float32Array.of(3)), { k: 99 })], [0.5]);
  // 5.5 is equally far from 1 and 10: with k = 1 the lower index (label 0) wins.
  const tie = { x: matrix([2, 1], Float32Array.of(1, 10)), y: [0, 1] };
  assert.deepEqual([...knnProba(tie, matrix([1, 1], Float32Array.of(5.5)), { k: 1 })], [0]);
});
