/**
 * The shared logistic pieces: sigmoid and softplus identities (and no overflow), margins by
 * hand, the data term's value at zero and its gradient against central finite differences,
 * and the SPD solver's residual.
 * @module
 */

import assert from "node:assert/strict";
import { dataTerm, margins, sigmoid, softplus, solveSpd } from "./logistic_objective.ts";
import { matrix } from "../sae/matrix.ts";
import { gaussianArray } from "../random.ts";

const near = (a: number, b: number, tol: number, what = "") =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

Deno.test("logistic objective: sigmoid and softplus identities hold without overflow", () => {
  assert.equal(sigmoid(0), 0.5);
  assert.equal(softplus(0), Math.LN2);
  for (const z of [-30, -2.5, -0.1, 0.1, 1, 7, 30]) {
    near(sigmoid(z) + sigmoid(-z), 1, 1e-15, `sigmoid symmetry at ${z}`);
    near(softplus(z) - softplus(-z), z, 1e-12, `softplus(z) - softplus(-z) at ${z}`);
    near(softplus(z), Math.log(1 + Math.exp(z)), 1e-12, `softplus at ${z}`);
    // d/dz softplus = sigmoid.
    near((softplus(z + 1e-6) - softplus(z - 1e-6)) / 2e-6, sigmoid(z), 1e-8, `softplus' at ${z}`);
  }
  assert.equal(sigmoid(1000), 1);
  assert.equal(sigmoid(-1000), 0);
  assert.equal(softplus(1000), 1000);
  assert.equal(softplus(-1000), 0);
});

Deno.test("logistic objective: margins are x.w + b", () => {
  const x = matrix([2, 3], Float32Array.of(1, 2, 3, -1, 0, 0.5));
  const z = margins(x, { weights: Float64Array.of(0.5, -1, 2), intercept: 0.25 });
  assert.deepEqual([...z], [0.5 - 2 + 6 + 0.25, -0.5 + 1 + 0.25]);
});

Deno.test("logistic objective: at zero the loss is C n log 2 and the gradient C X~^T (1/2 - y)", () => {
  const x = matrix([3, 2], Float32Array.of(1, 2, 3, 4, -1, 0));
  const y = [1, 0, 1];
  const { loss, grad, z } = dataTerm(x, y, { w: new Float64Array(2), b: 0, C: 2 });
  near(loss, 2 * 3 * Math.LN2, 1e-12, "loss");
  // Residuals 1/2 - y = [-1/2, 1/2, -1/2], times C = 2.
  assert.deepEqual([...grad], [-1 + 3 + 1, -2 + 4 - 0, -1 + 1 - 1]);
  assert.deepEqual([...z], [0, 0, 0]);
});

Deno.test("logistic objective: the gradient matches central finite differences", () => {
  const n = 12;
  const d = 4;
  const x = matrix([n, d], gaussianArray(n * d, 3));
  const y = Array.from({ length: n }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0);
  const w = Float64Array.from(gaussianArray(d, 4));
  const b = -0.3;
  const C = 0.7;
  const { grad } = dataTerm(x, y, { w, b, C });
  const h = 1e-5;
  for (let j = 0; j <= d; j++) {
    const at = (e: number) => {
      const wj = Float64Array.from(w);
      if (j < d) wj[j] += e;
      return dataTerm(x, y, { w: wj, b: j === d ? b + e : b, C }).loss;
    };
    near(grad[j], (at(h) - at(-h)) / (2 * h), 1e-6 * Math.max(1, Math.abs(grad[j])), `grad[${j}]`);
  }
});

Deno.test("logistic objective: solveSpd solves A v = r (Cholesky)", () => {
  // A known 2 x 2: [[4, 2], [2, 3]] v = [2, 1] -> v = [1/2, 0].
  const v2 = solveSpd(Float64Array.of(4, 2, 2, 3), Float64Array.of(2, 1));
  near(v2[0], 0.5, 1e-15);
  near(v2[1], 0, 1e-15);
  // A = M^T M + I for a random 6 x 6 M: the residual is at round-off.
  const n = 6;
  const m = gaussianArray(n * n, 9);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = i === j ? 1 : 0;
      for (let k = 0; k < n; k++) s += m[k * n + i] * m[k * n + j];
      a[i * n + j] = s;
    }
  }
  const r = Float64Array.from(gaussianArray(n, 10));
  const v = solveSpd(a, r);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += a[i * n + j] * v[j];
    near(s, r[i], 1e-10, `row ${i}`);
  }
});
