/**
 * L1-penalized logistic regression (scikit-learn's objective, intercept unpenalized):
 * proximal Newton with coordinate descent on each quadratic model up to 256 features,
 * accelerated proximal gradient with restarts beyond.
 * @module
 */

import type { Matrix } from "../sae/matrix.ts";
import {
  dataTerm,
  type LogisticModel,
  type LogisticOptions,
  sigmoid,
} from "./logistic_objective.ts";

/** lambda_max of X~^T X~ for X~ = [X, 1], by power iteration. */
function largestEigenvalue(x: Matrix): number {
  const d = x.cols + 1;
  let v = new Float64Array(d).fill(1 / Math.sqrt(d));
  let lambda = 0;
  for (let it = 0; it < 50; it++) {
    const xv = new Float64Array(x.rows);
    for (let i = 0; i < x.rows; i++) {
      let s = v[d - 1];
      for (let j = 0; j < x.cols; j++) s += x.data[i * x.cols + j] * v[j];
      xv[i] = s;
    }
    const next = new Float64Array(d);
    for (let i = 0; i < x.rows; i++) {
      for (let j = 0; j < x.cols; j++) next[j] += x.data[i * x.cols + j] * xv[i];
      next[d - 1] += xv[i];
    }
    let norm = 0;
    for (const e of next) norm += e * e;
    norm = Math.sqrt(norm);
    if (norm === 0) return 1;
    const prev = lambda;
    lambda = norm;
    v = next.map((e) => e / norm);
    if (Math.abs(lambda - prev) < 1e-9 * lambda) break;
  }
  return Math.max(lambda, 1e-12);
}

function softThreshold(v: number, t: number): number {
  return v > t ? v - t : v < -t ? v + t : 0;
}

/** Fit an L1-penalized logistic regression of labels `y` (0 / 1) on the rows of `x`. */
export function fitL1(x: Matrix, y: ArrayLike<number>, options: LogisticOptions): LogisticModel {
  const d = x.cols;
  // Step 1/L with L = C * lambda_max(X~^T X~) / 4 (power iteration, X~ = [X, 1]), padded 10%.
  const step = 4 / (options.C * 1.1 * largestEigenvalue(x));
  let w = Float64Array.from(options.warmStart?.weights ?? new Float64Array(d));
  let b = options.warmStart?.intercept ?? 0;
  let vw = Float64Array.from(w);
  let vb = b;
  let tk = 1;
  const objective = (wv: Float64Array, bv: number) => {
    let l1 = 0;
    for (const v of wv) l1 += Math.abs(v);
    return l1 + dataTerm(x, y, { w: wv, b: bv, C: options.C }).loss;
  };
  let fPrev = objective(w, b);
  for (let it = 0; it < (options.maxIterations ?? 200000); it++) {
    options.signal?.throwIfAborted();
    const { grad } = dataTerm(x, y, { w: vw, b: vb, C: options.C });
    const wn = Float64Array.from(vw, (v, j) => softThreshold(v - step * grad[j], step));
    const bn = vb - step * grad[d];
    const f = objective(wn, bn);
    // Adaptive restart when the objective goes up.
    if (f > fPrev) {
      tk = 1;
      vw = Float64Array.from(w);
      vb = b;
      continue;
    }
    const tNext = (1 + Math.sqrt(1 + 4 * tk * tk)) / 2;
    const mom = (tk - 1) / tNext;
    let change = Math.abs(bn - b);
    vw = Float64Array.from(wn, (v, j) => {
      change = Math.max(change, Math.abs(v - w[j]));
      return v + mom * (v - w[j]);
    });
    vb = bn + mom * (bn - b);
    w = wn;
    b = bn;
    tk = tNext;
    fPrev = f;
    let scale = Math.abs(b);
    for (const v of w) scale = Math.max(scale, Math.abs(v));
    if (change < (options.tolerance ?? 1e-12) * Math.max(1, scale)) break;
  }
  return { weights: w, intercept: b };
}

/** Optimality violation of an L1 solution: subgradient conditions per coordinate. */
function l1Violation(grad: Float64Array, w: Float64Array): number {
  let worst = Math.abs(grad[w.length]); // intercept: plain stationarity
  for (let j = 0; j < w.length; j++) {
    const v = w[j] !== 0 ? Math.abs(grad[j] + Math.sign(w[j])) : Math.max(0, Math.abs(grad[j]) - 1);
    worst = Math.max(worst, v);
  }
  return worst;
}

/**
 * L1 by proximal Newton (as newGLMNET): a quadratic model of the data term around the current
 * point, minimized with the L1 penalty by cyclic coordinate descent, then a line search.
 */
export function fitL1Newton(
  x: Matrix,
  y: ArrayLike<number>,
  options: LogisticOptions,
): LogisticModel {
  const d = x.cols;
  const n = d + 1;
  let w = Float64Array.from(options.warmStart?.weights ?? new Float64Array(d));
  let b = options.warmStart?.intercept ?? 0;
  const objective = (wv: Float64Array, bv: number) => {
    let l1 = 0;
    for (const v of wv) l1 += Math.abs(v);
    return l1 + dataTerm(x, y, { w: wv, b: bv, C: options.C }).loss;
  };
  const tol = options.tolerance ?? 1e-10;
  for (let outer = 0; outer < (options.maxIterations ?? 100); outer++) {
    options.signal?.throwIfAborted();
    const { grad, z } = dataTerm(x, y, { w, b, C: options.C });
    if (l1Violation(grad, w) < tol) break;
    const h = new Float64Array(n * n);
    for (let i = 0; i < x.rows; i++) {
      const p = sigmoid(z[i]);
      const s = options.C * p * (1 - p);
      const row = x.data.subarray(i * d, (i + 1) * d);
      for (let j = 0; j < n; j++) {
        const xj = j < d ? row[j] : 1;
        if (xj === 0) continue;
        for (let k = 0; k <= j; k++) h[j * n + k] += s * xj * (k < d ? row[k] : 1);
      }
    }
    for (let j = 0; j < n; j++) {
      h[j * n + j] += 1e-12;
      for (let k = 0; k < j; k++) h[k * n + j] = h[j * n + k];
    }
    // Coordinate descent on u from the current point; r = g + H (u - current).
    const u = new Float64Array(n);
    u.set(w);
    u[d] = b;
    const r = Float64Array.from(grad);
    for (let sweep = 0; sweep < 1000; sweep++) {
      let change = 0;
      let size = 0;
      for (let j = 0; j < n; j++) {
        const a = h[j * n + j];
        let next = u[j] - r[j] / a;
        if (j < d) {
          const t = 1 / a;
          next = next > t ? next - t : next < -t ? next + t : 0;
        }
        const delta = next - u[j];
        size = Math.max(size, Math.abs(next));
        if (delta === 0) continue;
        u[j] = next;
        for (let k = 0; k < n; k++) r[k] += delta * h[k * n + j];
        change = Math.max(change, Math.abs(delta));
      }
      if (change <= 1e-13 * (1 + size)) break;
    }
    // Line search along u - current on the full objective.
    const f0 = objective(w, b);
    let l1Now = 0;
    let l1New = 0;
    let gd = grad[d] * (u[d] - b);
    for (let j = 0; j < d; j++) {
      l1Now += Math.abs(w[j]);
      l1New += Math.abs(u[j]);
      gd += grad[j] * (u[j] - w[j]);
    }
    const decrease = Math.min(gd + l1New - l1Now, 0);
    let t = 1;
    let progress = false;
    while (t > 1e-12) {
      const wn = Float64Array.from(w, (v, j) => v + t * (u[j] - v));
      const bn = b + t * (u[d] - b);
      const f = objective(wn, bn);
      if (f <= f0 + 1e-4 * t * decrease) {
        w = wn;
        b = bn;
        progress = f0 - f > 1e-15 * Math.abs(f0);
        break;
      }
      t /= 2;
    }
    if (!progress) break; // nothing left to gain at double precision
  }
  return { weights: w, intercept: b };
}
