/**
 * L1 logistic regression: proximal Newton and accelerated proximal gradient both satisfy the
 * subgradient (KKT) conditions of ||w||_1 + C sum logloss, agree, give exactly zero weights
 * below the critical C, and zero out features that carry no signal.
 * @module
 */

import assert from "node:assert/strict";
import { fitL1, fitL1Newton } from "./logistic_l1.ts";
import { dataTerm, type LogisticModel, type LogisticOptions } from "./logistic_objective.ts";
import { type Matrix, matrix } from "../sae/matrix.ts";
import { gaussianArray, seededRandom } from "../random.ts";

/** 80 rows, 5 features; only features 0 and 1 drive the labels. */
function data(): { x: Matrix; y: Uint8Array } {
  const n = 80;
  const d = 5;
  const x = matrix([n, d], gaussianArray(n * d, 31));
  const rand = seededRandom(32);
  const y = Uint8Array.from({ length: n }, (_, i) => {
    const z = 2 * x.data[i * d] - 1.5 * x.data[i * d + 1];
    return rand() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  });
  return { x, y };
}

/**
 * Worst violation of the optimality conditions with g = C X^T (p - y): g_b = 0;
 * g_j = -sign(w_j) where w_j != 0; |g_j| <= 1 where w_j = 0.
 */
function kkt(x: Matrix, y: Uint8Array, C: number, model: LogisticModel): number {
  const { grad } = dataTerm(x, y, { w: model.weights, b: model.intercept, C });
  let worst = Math.abs(grad[x.cols]);
  model.weights.forEach((w, j) => {
    const v = w !== 0 ? Math.abs(grad[j] + Math.sign(w)) : Math.max(0, Math.abs(grad[j]) - 1);
    worst = Math.max(worst, v);
  });
  return worst;
}

const options = (C: number, extra?: Partial<LogisticOptions>): LogisticOptions => ({
  penalty: "l1",
  C,
  ...extra,
});
/** Proximal gradient converges linearly at best: a tolerance it reaches in milliseconds. */
const APG = (C: number) => options(C, { tolerance: 1e-8, maxIterations: 10_000 });

Deno.test("logistic l1: proximal Newton and proximal gradient meet the KKT conditions and agree", () => {
  const { x, y } = data();
  for (const C of [0.05, 0.5, 5]) {
    const newton = fitL1Newton(x, y, options(C));
    const apg = fitL1(x, y, APG(C));
    assert.ok(kkt(x, y, C, newton) < 1e-8, `newton C=${C}: ${kkt(x, y, C, newton)}`);
    assert.ok(kkt(x, y, C, apg) < 1e-5, `apg C=${C}: ${kkt(x, y, C, apg)}`);
    for (let j = 0; j < x.cols; j++) {
      assert.ok(Math.abs(newton.weights[j] - apg.weights[j]) < 1e-5, `w[${j}] at C=${C}`);
    }
  }
});

Deno.test("logistic l1: below the critical C every weight is exactly zero", () => {
  const { x, y } = data();
  // w = 0 is optimal iff C |X^T (ybar - y)|_inf <= 1 (the intercept alone fits ybar).
  const ybar = y.reduce((a, b) => a + b, 0) / y.length;
  let gmax = 0;
  for (let j = 0; j < x.cols; j++) {
    let g = 0;
    for (let i = 0; i < x.rows; i++) g += x.data[i * x.cols + j] * (ybar - y[i]);
    gmax = Math.max(gmax, Math.abs(g));
  }
  const critical = 1 / gmax;
  // Proximal gradient's intercept converges slowly at small C: a short run, a looser check.
  const short = (C: number) => options(C, { maxIterations: 1000 });
  for (const [fit, opts, tol] of [[fitL1Newton, options, 1e-9], [fitL1, short, 1e-4]] as const) {
    const below = fit(x, y, opts(0.9 * critical));
    assert.deepEqual([...below.weights], [0, 0, 0, 0, 0]);
    assert.ok(Math.abs(below.intercept - Math.log(ybar / (1 - ybar))) < tol, "b = logit(ybar)");
    const above = fit(x, y, opts(1.5 * critical));
    assert.ok(above.weights.some((w) => w !== 0), "past the critical C a weight turns on");
  }
});

Deno.test("logistic l1: features without signal get exactly zero weight at moderate C", () => {
  const { x, y } = data();
  const m = fitL1Newton(x, y, options(0.1));
  assert.ok(m.weights[0] > 0 && m.weights[1] < 0, `signs of the true features: ${m.weights}`);
  assert.ok(m.weights.slice(2).filter((w) => w === 0).length >= 2, `sparse: ${m.weights}`);
});

Deno.test("logistic l1: warm starts and cancellation", () => {
  const { x, y } = data();
  const solved = fitL1Newton(x, y, options(0.5));
  const again = fitL1Newton(x, y, options(0.5, { warmStart: solved }));
  assert.deepEqual([...again.weights], [...solved.weights], "already optimal: no step taken");
  const warm = { weights: Float64Array.of(1, 0, 0, 0, 0), intercept: 2 };
  const none = fitL1(x, y, options(0.5, { warmStart: warm, maxIterations: 0 }));
  assert.deepEqual([...none.weights, none.intercept], [1, 0, 0, 0, 0, 2]);
  const signal = AbortSignal.abort(new Error("abandoned"));
  assert.throws(() => fitL1(x, y, options(0.5, { signal })), /abandoned/);
});

Deno.test("logistic l1: an aborted signal stops proximal Newton before it fits", () => {
  const { x, y } = data();
  const controller = new AbortController();
  controller.abort(new Error("cancelled"));
  assert.throws(() => fitL1Newton(x, y, options(0.5, { signal: controller.signal })), /cancelled/);
});
