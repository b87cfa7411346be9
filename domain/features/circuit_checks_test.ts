/**
 * The sanity checks of circuit discovery on hand-made codes: paired codes pass, unpaired codes,
 * one-class or unbalanced labels, ties and a low ground-truth AUC each warn.
 * @module
 */

import assert from "node:assert/strict";
import { circuitWarnings, sharedCodeRates } from "./circuit_checks.ts";

// 3 task examples then their 3 corrupted copies, 3 heads: head 2 is the circuit.
const paired = [
  Int32Array.of(1, 4, 9),
  Int32Array.of(2, 5, 9),
  Int32Array.of(3, 6, 9),
  Int32Array.of(1, 4, 7),
  Int32Array.of(2, 5, 8),
  Int32Array.of(3, 6, 7),
];
const labels = [1, 1, 1, 0, 0, 0];

Deno.test("sharedCodeRates: the share of corrupted examples coded like some task example", () => {
  assert.deepEqual(sharedCodeRates(paired, labels, { heads: 3 }), [1, 1, 0]);
  assert.ok(sharedCodeRates(paired, [1, 1, 1, 1, 1, 1], { heads: 3 }).every(Number.isNaN));
});

Deno.test("circuitWarnings: none on paired codes with a separating head", () => {
  assert.deepEqual(circuitWarnings(paired, labels, { counts: [0, 0, 1], groundTruthAuc: 1 }), []);
});

Deno.test("circuitWarnings: unpaired codes, a tie and a low ground-truth AUC", () => {
  // Every example codes differently on every head: nothing is shared.
  const unpaired = labels.map((_, e) => Int32Array.of(10 + e, 20 + e, 30 + e));
  const w = circuitWarnings(unpaired, labels, { counts: [3, 3, 3], groundTruthAuc: 0 });
  assert.equal(w.length, 3, w.join("\n"));
  assert.match(w[0], /look unpaired: on the median head only 0 % of corrupted examples/);
  assert.match(w[1], /^no head separates: every head has 3 positive-only codes/);
  assert.match(w[2], /ROC AUC 0\.000/);
});

Deno.test("circuitWarnings: one class, unbalanced classes, no positive-only code", () => {
  const one = circuitWarnings(paired, [1, 1, 1, 1, 1, 1], { counts: [3, 3, 3] });
  assert.equal(one.length, 1);
  assert.match(one[0], /no corrupted \(0\) examples/);
  const unbalanced = circuitWarnings(paired, [1, 1, 1, 1, 0, 0], { counts: [0, 0, 1] });
  assert.deepEqual(unbalanced.length, 1);
  assert.match(unbalanced[0], /^4 task \(1\) and 2 corrupted \(0\) examples/);
  const none = circuitWarnings(paired, labels, { counts: [0, 0, 0] });
  assert.match(none.join("\n"), /no head has a code seen on task examples/);
});
