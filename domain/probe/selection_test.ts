import assert from "node:assert/strict";
import { rankByMeanDifference } from "./selection.ts";

const codes = {
  width: 4,
  indices: [Int32Array.of(0, 1), Int32Array.of(1), Int32Array.of(0, 2), Int32Array.of(2)],
  values: [Float32Array.of(4, 1), Float32Array.of(1), Float32Array.of(2, 8), Float32Array.of(8)],
};
const y = [1, 1, 0, 0];

Deno.test("rankByMeanDifference: by |mean(f | 1) - mean(f | 0)|, silent latents last", () => {
  // Latent 0: 2 - 1 = 1; latent 1: 1 - 0 = 1; latent 2: 0 - 8 = 8; latent 3 never fires.
  assert.deepEqual(rankByMeanDifference(codes, y), [2, 0, 1, 3]);
});

Deno.test("rankByMeanDifference: normalized divides by the mean non-zero activation", () => {
  // Latent 0: 1 / 3; latent 1: 1 / 1; latent 2: 8 / 8.
  assert.deepEqual(rankByMeanDifference(codes, y, { normalized: true }), [1, 2, 0, 3]);
});
