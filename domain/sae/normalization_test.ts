import assert from "node:assert/strict";
import { matrix } from "./matrix.ts";
import { LAYER_NORM_EPS, normalizeIn, normalizeOut, rowStatistics } from "./normalization.ts";
import { SaeError } from "../errors.ts";

const x = matrix([2, 4], Float32Array.from([1, 2, 3, 4, -2, 0, 2, 4]));

Deno.test("constant_norm_rescale scales rows to norm sqrt(d_in) and back", () => {
  const stats = rowStatistics("constant_norm_rescale", x);
  const s = normalizeIn(stats, x, { preBias: null });
  const norm0 = Math.hypot(...s.data.subarray(0, 4));
  assert.ok(Math.abs(norm0 - 2) < 1e-6);
  const back = normalizeOut(stats, matrix([2, 4], s.data.slice()));
  back.data.forEach((v, i) => assert.ok(Math.abs(v - x.data[i]) < 1e-5));
});

Deno.test("layer_norm uses the unbiased sd and eps on the way in, sd and mean on the way out", () => {
  const stats = rowStatistics("layer_norm", x);
  const mu = 2.5;
  const sd = Math.sqrt(((1.5 ** 2) * 2 + 0.5 ** 2 * 2) / 3);
  const s = normalizeIn(stats, x, { preBias: null });
  assert.ok(Math.abs(s.data[0] - (1 - mu) / (sd + LAYER_NORM_EPS)) < 1e-6);
  const y = normalizeOut(stats, matrix([2, 4], new Float32Array(8).fill(1)));
  assert.ok(Math.abs(y.data[0] - (sd + mu)) < 1e-5);
});

Deno.test("normalizeIn subtracts the pre-bias after normalizing", () => {
  const stats = rowStatistics("none", x);
  const s = normalizeIn(stats, x, { preBias: Float32Array.from([1, 1, 1, 1]) });
  assert.deepEqual(Array.from(s.data.subarray(0, 4)), [0, 1, 2, 3]);
});

Deno.test("constant_norm_rescale refuses an all-zero row with a 422-kind error", () => {
  assert.throws(
    () => rowStatistics("constant_norm_rescale", matrix([1, 3])),
    (e) => e instanceof SaeError && e.kind === "invalid",
  );
});
