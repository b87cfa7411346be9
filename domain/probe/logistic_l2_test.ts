/**
 * L2 logistic regression: both solvers (Newton, L-BFGS) reach the stationary point of
 * 0.5 ||w||^2 + C sum logloss (gradient ~ 0), agree with each other, give the closed form
 * logit(mean y) without features, shrink with C, and honour warm starts and cancellation.
 * @module
 */

import assert from "node:assert/strict";
import { fitL2Lbfgs, fitL2Newton } from "./logistic_l2.ts";
import { dataTerm, type LogisticModel, type LogisticOptions } from "./logistic_objective.ts";
import { type Matrix, matrix } from "../sae/matrix.ts";
import { gaussianArray, seededRandom } from "../random.ts";

/** 60 rows, 4 features, labels drawn from a logistic model (not separable). */
function data(): { x: Matrix; y: Uint8Array } {
  const n = 60;
  const d = 4;
  const x = matrix([n, d], gaussianArray(n * d, 21));
  const truth = [1.5, -1, 0, 0.5];
  const rand = seededRandom(22);
  const y = Uint8Array.from({ length: n }, (_, i) => {
    let z = 0.3;
    for (let j = 0; j < d; j++) z += truth[j] * x.data[i * d + j];
    return rand() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  });
  return { x, y };
}

/** Largest |gradient| of the L2 objective at `model`. */
function stationarity(x: Matrix, y: Uint8Array, C: number, model: LogisticModel): number {
  const { grad } = dataTerm(x, y, { w: model.weights, b: model.intercept, C });
  let worst = 0;
  grad.forEach((g, j) => worst = Math.max(worst, Math.abs(j < x.cols ? g + model.weights[j] : g)));
  return worst;
}

const SOLVERS = { newton: fitL2Newton, lbfgs: fitL2Lbfgs };
const options = (C: number, extra?: Partial<LogisticOptions>): LogisticOptions => ({
  penalty: "l2",
  C,
  ...extra,
});

Deno.test("logistic l2: Newton and L-BFGS reach the same stationary point", () => {
  const { x, y } = data();
  for (const C of [0.01, 1, 100]) {
    const newton = fitL2Newton(x, y, options(C));
    const lbfgs = fitL2Lbfgs(x, y, options(C));
    assert.ok(stationarity(x, y, C, newton) < 1e-8, `newton C=${C}`);
    assert.ok(stationarity(x, y, C, lbfgs) < 1e-6, `lbfgs C=${C}`);
    for (let j = 0; j < x.cols; j++) {
      assert.ok(Math.abs(newton.weights[j] - lbfgs.weights[j]) < 1e-6, `w[${j}] at C=${C}`);
    }
    assert.ok(Math.abs(newton.intercept - lbfgs.intercept) < 1e-6, `b at C=${C}`);
  }
});

Deno.test("logistic l2: without features the intercept is logit(mean y)", () => {
  const x = matrix([4, 0]);
  const y = Uint8Array.of(1, 1, 1, 0);
  for (const [name, fit] of Object.entries(SOLVERS)) {
    const m = fit(x, y, options(1));
    assert.equal(m.weights.length, 0);
    assert.ok(Math.abs(m.intercept - Math.log(3)) < 1e-7, `${name}: ${m.intercept}`);
  }
});

Deno.test("logistic l2: a stronger penalty (smaller C) gives a smaller weight norm", () => {
  const { x, y } = data();
  const norms = [0.001, 0.1, 10].map((C) => {
    const w = fitL2Newton(x, y, options(C)).weights;
    return Math.hypot(...w);
  });
  assert.ok(norms[0] < norms[1] && norms[1] < norms[2], `${norms}`);
  assert.ok(norms[0] < 0.1, "C = 0.001 is nearly all penalty");
});

Deno.test("logistic l2: a warm start at the optimum stays there; zero iterations return it", () => {
  const { x, y } = data();
  for (const [name, fit] of Object.entries(SOLVERS)) {
    const solved = fit(x, y, options(1));
    const again = fit(x, y, options(1, { warmStart: solved }));
    assert.ok(stationarity(x, y, 1, again) < 1e-6, name);
    const warm = { weights: Float64Array.of(1, 2, 3, 4), intercept: 5 };
    const none = fit(x, y, options(1, { warmStart: warm, maxIterations: 0 }));
    assert.deepEqual([...none.weights, none.intercept], [1, 2, 3, 4, 5], `${name}: untouched`);
    assert.notEqual(none.weights, warm.weights, `${name}: the warm start is copied`);
  }
});

Deno.test("logistic l2: both solvers poll the cancellation signal", () => {
  const { x, y } = data();
  const signal = AbortSignal.abort(new Error("abandoned"));
  for (const fit of Object.values(SOLVERS)) {
    assert.throws(() => fit(x, y, options(1, { signal })), /abandoned/);
  }
});
