import assert from "node:assert/strict";
import { matrix } from "./matrix.ts";
import { reconstructionMetrics } from "./reconstruction_metrics.ts";

const codes = (values: number[][]) => ({
  width: 8,
  indices: values.map((v) => Int32Array.from(v, (_, i) => i)),
  values: values.map((v) => Float32Array.from(v)),
});

Deno.test("reconstructionMetrics: exact reconstruction has mse 0, fvu 0, cosine 1", () => {
  const x = matrix([2, 2], Float32Array.of(1, 2, 3, 4));
  const m = reconstructionMetrics(x, { reconstruction: x, codes: codes([[1, 0, 2], [3]]) });
  assert.equal(m.mse, 0);
  assert.equal(m.fvu, 0);
  assert.ok(Math.abs(m.cosine - 1) < 1e-12);
  assert.deepEqual(m.per_row.l0, [2, 1], "zeros in a code list do not count");
  assert.equal(m.l0, 1.5);
});

Deno.test("reconstructionMetrics: known mse, fvu and cosine", () => {
  const x = matrix([2, 2], Float32Array.of(1, 0, -1, 0));
  const rec = matrix([2, 2], Float32Array.of(0, 1, 0, 0));
  const m = reconstructionMetrics(x, { reconstruction: rec, codes: codes([[1], [1]]) });
  // Row errors: 1 + 1 = 2 and 1: mse per row 1 and 0.5. Batch variance total: 1 + 1 = 2.
  assert.deepEqual(m.per_row.mse, [1, 0.5]);
  assert.equal(m.mse, 0.75);
  assert.equal(m.fvu, 3 / 2);
  assert.deepEqual(m.per_row.cosine, [0, 0], "orthogonal, and a zero reconstruction counts 0");
});

Deno.test("reconstructionMetrics: fvu is null for a single row", () => {
  const x = matrix([1, 2], Float32Array.of(1, 1));
  assert.equal(reconstructionMetrics(x, { reconstruction: x, codes: codes([[1]]) }).fvu, null);
});
