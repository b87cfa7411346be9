/**
 * The hard regimes as row selections: sampled rows are distinct with the asked positive share
 * (clamped to what the data holds), label flips touch exactly the asked fraction, both are
 * seeded, and each regime lists the paper's settings for a dataset size.
 * @module
 */

import assert from "node:assert/strict";
import { flipLabels, regimeSettings, sampleRows } from "./regimes.ts";

/** 30 positives then 70 negatives. */
const Y = Uint8Array.from({ length: 100 }, (_, i) => i < 30 ? 1 : 0);
const positives = (rows: number[]) => rows.filter((i) => Y[i] === 1).length;

Deno.test("regimes: sampleRows takes n distinct rows with round(n * fraction) positives", () => {
  for (const [n, fraction, want] of [[20, 0.5, 10], [20, 0.1, 2], [40, 0.75, 30], [10, 0.04, 1]]) {
    const rows = sampleRows(Y, { n, positiveFraction: fraction, seed: 3 });
    assert.equal(rows.length, n, `n=${n}`);
    assert.equal(new Set(rows).size, n, "distinct");
    assert.ok(rows.every((i) => Number.isInteger(i) && i >= 0 && i < Y.length));
    assert.equal(positives(rows), want, `n=${n} fraction=${fraction}`);
  }
  // At least one of each class, however extreme the fraction.
  assert.equal(positives(sampleRows(Y, { n: 10, positiveFraction: 1 })), 9);
  assert.equal(positives(sampleRows(Y, { n: 10, positiveFraction: 0 })), 1);
});

Deno.test("regimes: sampleRows keeps the positive fraction within the rows the data has", () => {
  // 60 positives asked of 90 rows, 30 exist: 30 positives and 15 negatives keep 2/3.
  const rows = sampleRows(Y, { n: 90, positiveFraction: 2 / 3 });
  assert.equal(positives(rows), 30);
  assert.equal(rows.length, 45);
  // Balanced from 30 positives and 70 negatives: 30 + 30, not 30 + 70.
  const balanced = sampleRows(Y, { n: 1000 });
  assert.equal(balanced.length, 60);
  assert.equal(positives(balanced), 30);
  // Enough of both: n rows at the fraction.
  assert.equal(sampleRows(Y, { n: 40, positiveFraction: 0.25 }).length, 40);
  assert.equal(positives(sampleRows(Y, { n: 40, positiveFraction: 0.25 })), 10);
});

Deno.test("regimes: sampling and flipping are seeded", () => {
  const a = sampleRows(Y, { n: 20, seed: 1 });
  assert.deepEqual(sampleRows(Y, { n: 20, seed: 1 }), a);
  assert.notDeepEqual(sampleRows(Y, { n: 20, seed: 2 }), a);
  assert.deepEqual(
    flipLabels(Y, { fraction: 0.3, seed: 4 }),
    flipLabels(Y, { fraction: 0.3, seed: 4 }),
  );
  assert.notDeepEqual(
    flipLabels(Y, { fraction: 0.3, seed: 4 }),
    flipLabels(Y, { fraction: 0.3, seed: 5 }),
  );
});

Deno.test("regimes: flipLabels flips exactly round(fraction * n) labels and copies", () => {
  const before = Y.slice();
  for (const [fraction, want] of [[0, 0], [0.1, 10], [0.333, 33], [1, 100]]) {
    const out = flipLabels(Y, { fraction, seed: 9 });
    assert.equal(out.filter((v, i) => v !== Y[i]).length, want, `fraction ${fraction}`);
    assert.ok(out.every((v) => v === 0 || v === 1));
  }
  assert.deepEqual(Y, before, "the input is untouched");
});

Deno.test("regimes: the settings of each regime for a dataset size", () => {
  const full = regimeSettings(2000, { hasShift: true });
  const count = (r: string) => full.filter((s) => s.regime === r).length;
  assert.deepEqual(full[0], {
    regime: "standard",
    setting: "n=1024",
    n: 1024,
    positiveFraction: 0.5,
    noise: 0,
    shifted: false,
  });
  assert.deepEqual([count("scarcity"), count("imbalance"), count("noise"), count("shift")], [
    10,
    6,
    5,
    1,
  ]);
  assert.deepEqual(full.find((s) => s.setting === "pos=0.05")?.positiveFraction, 0.05);
  assert.deepEqual(full.find((s) => s.setting === "flip=0.3")?.noise, 0.3);
  assert.equal(full.find((s) => s.regime === "shift")?.shifted, true);
  assert.ok(full.every((s) => s.regime === "scarcity" || s.n === 1024), "only scarcity shrinks n");

  // 150 rows: standard uses size - 100 = 50, so scarcity stops at 32; no shift set.
  const small = regimeSettings(150);
  assert.equal(small[0].n, 50);
  assert.deepEqual(small.filter((s) => s.regime === "scarcity").map((s) => s.n), [2, 4, 8, 16, 32]);
  assert.ok(!small.some((s) => s.regime === "shift"));
  assert.equal(regimeSettings(10)[0].n, 2, "never fewer than 2 rows");
  // A separate test set (probe-bench's test_x.npy): every training row may train.
  assert.equal(regimeSettings(100, { testRows: 0 })[0].n, 100);
  assert.equal(regimeSettings(5000, { testRows: 0 })[0].n, 1024);

  const quick = regimeSettings(2000, { quick: true });
  assert.deepEqual(quick.map((s) => s.setting), [
    "n=1024",
    "n=4",
    "n=16",
    "n=64",
    "pos=0.1",
    "pos=0.9",
    "flip=0.2",
  ]);
});
