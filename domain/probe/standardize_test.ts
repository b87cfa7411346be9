import assert from "node:assert/strict";
import { matrix } from "../sae/matrix.ts";
import { applyScaler, fitScaler } from "./standardize.ts";

Deno.test("fitScaler: column means and population standard deviations; constants keep 1", () => {
  const x = matrix([4, 2], Float32Array.of(1, 5, 3, 5, 5, 5, 7, 5));
  const s = fitScaler(x);
  assert.deepEqual([...s.mean], [4, 5]);
  assert.ok(Math.abs(s.scale[0] - Math.sqrt(5)) < 1e-12, "var of 1,3,5,7 is 5");
  assert.equal(s.scale[1], 1);
});

Deno.test("applyScaler: standardized training columns have mean 0 and variance 1", () => {
  const x = matrix([3, 2], Float32Array.of(2, -1, 4, 0, 9, 10));
  const z = applyScaler(fitScaler(x), x);
  for (let c = 0; c < 2; c++) {
    const col = [0, 1, 2].map((r) => z.data[r * 2 + c]);
    const mean = col.reduce((a, b) => a + b) / 3;
    const variance = col.reduce((a, b) => a + (b - mean) ** 2, 0) / 3;
    assert.ok(Math.abs(mean) < 1e-6);
    assert.ok(Math.abs(variance - 1) < 1e-5);
  }
});
