import assert from "node:assert/strict";
import { matrix } from "../domain/sae/matrix.ts";
import { nonZeroRows, topKRows } from "./top_k_rows.ts";

Deno.test("topKRows ranks each row on its own, zeros included, ties by lower index", () => {
  const r = topKRows(matrix([2, 4], Float32Array.from([0, 1, 0, -2, 5, 5, 4, 0])), 2);
  assert.equal(r.width, 4);
  assert.deepEqual(r.indices.map((ix) => [...ix]), [[1, 0], [0, 1]]);
  assert.deepEqual(r.values.map((v) => [...v]), [[1, 0], [5, 5]]);
});

Deno.test("topKRows applies keep; nonZeroRows keeps every non-zero, negatives last", () => {
  const m = matrix([2, 3], Float32Array.from([0, -1, 3, 0, 0, 0]));
  const positive = topKRows(m, 3, { keep: (v) => v > 0 });
  assert.deepEqual(positive.indices.map((ix) => [...ix]), [[2], []]);
  const codes = nonZeroRows(m);
  assert.deepEqual(codes.indices.map((ix) => [...ix]), [[2, 1], []]);
  assert.deepEqual(codes.values.map((v) => [...v]), [[3, -1], []]);
});
