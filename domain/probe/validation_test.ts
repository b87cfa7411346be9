import assert from "node:assert/strict";
import { rankByMeanDifference } from "./selection.ts";
import { flipLabels, regimeSettings, sampleRows } from "./regimes.ts";
import { schemeFor, validationAuc, validationFolds } from "./validation.ts";

Deno.test("validation: the paper's scheme by size (leave-2-out, stratified 6-fold, hold-out)", () => {
  assert.equal(schemeFor(12), "leave-2-out");
  assert.equal(schemeFor(13), "6-fold");
  assert.equal(schemeFor(128), "hold-out");
  const small = validationFolds([1, 0, 1, 0, 0]);
  assert.equal(small.length, 2 * 3); // every positive/negative pair
  assert.ok(small.every((f) => f.val.length === 2 && f.train.length === 3));
  const y = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const folds = validationFolds(y);
  assert.equal(folds.length, 6);
  assert.deepEqual(
    folds.flatMap((f) => f.val).sort((a, b) => a - b),
    Array.from({ length: 60 }, (_, i) => i),
  );
  for (const f of folds) {
    assert.ok(f.val.some((i) => y[i] === 1) && f.val.some((i) => y[i] === 0), "stratified");
  }
  const big = validationFolds(Array.from({ length: 1000 }, (_, i) => i % 2));
  assert.equal(big.length, 1);
  assert.equal(big[0].val.length, 100); // min(20%, 100)
});

Deno.test("validation: AUC of a perfect and an inverted scorer", () => {
  const y = Array.from({ length: 40 }, (_, i) => i % 2);
  assert.equal(validationAuc(y, (f) => f.val.map((i) => y[i])), 1);
  assert.equal(validationAuc(y, (f) => f.val.map((i) => -y[i])), 0);
});

Deno.test("selection: mean difference ranks the separating latent first; normalization rescales", () => {
  const codes = {
    width: 3,
    indices: [Int32Array.of(0, 1), Int32Array.of(1), Int32Array.of(0, 2), Int32Array.of(2)],
    values: [
      Float32Array.of(10, 1),
      Float32Array.of(1),
      Float32Array.of(10, 0.5),
      Float32Array.of(0.5),
    ],
  };
  const y = [1, 0, 1, 0];
  // |mean diff|: latent 0: 10 - 0 = 10; latent 1: 0.5 - 0.5 = 0; latent 2: 0.25 - 0.25 = 0.
  assert.deepEqual(rankByMeanDifference(codes, y), [0, 1, 2]);
  assert.equal(rankByMeanDifference(codes, y, { normalized: true })[0], 0);
});

Deno.test("regimes: balanced and imbalanced samples, label flips, the settings of each regime", () => {
  const y = Array.from({ length: 200 }, (_, i) => (i < 100 ? 1 : 0));
  const idx = sampleRows(y, { n: 50, positiveFraction: 0.1, seed: 1 });
  assert.equal(idx.length, 50);
  assert.equal(idx.filter((i) => y[i] === 1).length, 5);
  const flipped = flipLabels(Uint8Array.from(y), { fraction: 0.25, seed: 2 });
  assert.equal(flipped.reduce((n, v, i) => n + (v !== y[i] ? 1 : 0), 0), 50);
  const settings = regimeSettings(1200, { hasShift: true });
  assert.equal(settings[0].n, 1024);
  for (const g of ["standard", "scarcity", "imbalance", "noise", "shift"]) {
    assert.ok(settings.some((s) => s.regime === g), g);
  }
});
