/**
 * L2-penalized logistic regression (scikit-learn's objective, intercept unpenalized):
 * Newton with a line search up to 256 features, L-BFGS beyond.
 * @module
 */

import type { Matrix } from "../sae/matrix.ts";
import {
  dataTerm,
  type LogisticModel,
  type LogisticOptions,
  sigmoid,
  solveSpd,
} from "./logistic_objective.ts";

/** Fit an L2-penalized logistic regression by Newton's method (few features). */
export function fitL2Newton(
  x: Matrix,
  y: ArrayLike<number>,
  options: LogisticOptions,
): LogisticModel {
  const d = x.cols;
  const n = d + 1;
  let w = Float64Array.from(options.warmStart?.weights ?? new Float64Array(d));
  let b = options.warmStart?.intercept ?? 0;
  const objective = (wv: Float64Array, bv: number) => {
    let reg = 0;
    for (const v of wv) reg += v * v;
    return 0.5 * reg + dataTerm(x, y, { w: wv, b: bv, C: options.C }).loss;
  };
  for (let it = 0; it < (options.maxIterations ?? 100); it++) {
    options.signal?.throwIfAborted();
    const { grad, z } = dataTerm(x, y, { w, b, C: options.C });
    for (let j = 0; j < d; j++) grad[j] += w[j];
    let gmax = 0;
    for (const g of grad) gmax = Math.max(gmax, Math.abs(g));
    if (gmax < (options.tolerance ?? 1e-10)) break;
    // Hessian: I (weights only) + C X~^T diag(p(1-p)) X~, X~ = [X, 1].
    const h = new Float64Array(n * n);
    for (let j = 0; j < d; j++) h[j * n + j] = 1;
    h[d * n + d] = 1e-12;
    for (let i = 0; i < x.rows; i++) {
      const p = sigmoid(z[i]);
      const s = options.C * p * (1 - p);
      if (s === 0) continue;
      const row = x.data.subarray(i * d, (i + 1) * d);
      for (let j = 0; j < n; j++) {
        const xj = j < d ? row[j] : 1;
        if (xj === 0) continue;
        for (let k = 0; k <= j; k++) h[j * n + k] += s * xj * (k < d ? row[k] : 1);
      }
    }
    for (let j = 0; j < n; j++) for (let k = 0; k < j; k++) h[k * n + j] = h[j * n + k];
    const step = solveSpd(h, grad);
    // Backtracking line search on the objective.
    const f0 = objective(w, b);
    let t = 1;
    let dec = 0;
    for (let j = 0; j < n; j++) dec += grad[j] * step[j];
    while (t > 1e-10) {
      const wn = Float64Array.from(w, (v, j) => v - t * step[j]);
      const bn = b - t * step[d];
      if (objective(wn, bn) <= f0 - 1e-4 * t * dec) {
        w = wn;
        b = bn;
        break;
      }
      t /= 2;
    }
    if (t <= 1e-10) break;
  }
  return { weights: w, intercept: b };
}

/** Fit an L2-penalized logistic regression by L-BFGS (many features). */
export function fitL2Lbfgs(
  x: Matrix,
  y: ArrayLike<number>,
  options: LogisticOptions,
): LogisticModel {
  const d = x.cols;
  const n = d + 1;
  const theta = new Float64Array(n);
  if (options.warmStart) {
    theta.set(options.warmStart.weights);
    theta[d] = options.warmStart.intercept;
  }
  const evaluate = (t: Float64Array) => {
    const w = t.subarray(0, d);
    const { loss, grad } = dataTerm(x, y, { w: w as Float64Array, b: t[d], C: options.C });
    let reg = 0;
    for (let j = 0; j < d; j++) {
      reg += t[j] * t[j];
      grad[j] += t[j];
    }
    return { f: loss + 0.5 * reg, g: grad };
  };
  const memory: { s: Float64Array; y: Float64Array; rho: number }[] = [];
  let { f, g } = evaluate(theta);
  for (let it = 0; it < (options.maxIterations ?? 5000); it++) {
    options.signal?.throwIfAborted();
    let gmax = 0;
    for (const v of g) gmax = Math.max(gmax, Math.abs(v));
    if (gmax < (options.tolerance ?? 1e-8)) break;
    // Two-loop recursion.
    const q = Float64Array.from(g);
    const alphas: number[] = [];
    for (let m = memory.length - 1; m >= 0; m--) {
      const { s, y: yy, rho } = memory[m];
      let a = 0;
      for (let j = 0; j < n; j++) a += s[j] * q[j];
      a *= rho;
      alphas[m] = a;
      for (let j = 0; j < n; j++) q[j] -= a * yy[j];
    }
    if (memory.length) {
      const { s, y: yy } = memory[memory.length - 1];
      let sy = 0;
      let yy2 = 0;
      for (let j = 0; j < n; j++) {
        sy += s[j] * yy[j];
        yy2 += yy[j] * yy[j];
      }
      for (let j = 0; j < n; j++) q[j] *= sy / yy2;
    }
    for (let m = 0; m < memory.length; m++) {
      const { s, y: yy, rho } = memory[m];
      let bta = 0;
      for (let j = 0; j < n; j++) bta += yy[j] * q[j];
      bta *= rho;
      for (let j = 0; j < n; j++) q[j] += s[j] * (alphas[m] - bta);
    }
    let dg = 0;
    for (let j = 0; j < n; j++) dg += q[j] * g[j];
    let t = 1;
    let next = theta;
    let fn = f;
    let gn = g;
    while (t > 1e-16) {
      next = Float64Array.from(theta, (v, j) => v - t * q[j]);
      ({ f: fn, g: gn } = evaluate(next));
      if (fn <= f - 1e-4 * t * dg) break;
      t /= 2;
    }
    const s = Float64Array.from(next, (v, j) => v - theta[j]);
    const yy = Float64Array.from(gn, (v, j) => v - g[j]);
    let sy = 0;
    for (let j = 0; j < n; j++) sy += s[j] * yy[j];
    if (sy > 1e-20) {
      memory.push({ s, y: yy, rho: 1 / sy });
      if (memory.length > 20) memory.shift();
    }
    theta.set(next);
    f = fn;
    g = gn;
    if (t <= 1e-16) break;
  }
  return { weights: theta.slice(0, d), intercept: theta[d] };
}
