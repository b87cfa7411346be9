/**
 * Binary logistic regression with scikit-learn's objective: L2 minimizes
 * 0.5 ||w||^2 + C sum_i log(1 + exp(-s_i (x_i.w + b))), L1 minimizes ||w||_1 + C sum_i (same),
 * s_i = +-1, intercept never penalized. Up to 256 features both run Newton-type solvers (L1:
 * proximal Newton with coordinate descent on each quadratic model); beyond, L-BFGS (L2) and
 * accelerated proximal gradient with restarts (L1). All accept warm starts (C grids).
 * @module
 */

import type { Cancellation } from "../cancellation.ts";

import type { Matrix } from "../sae/matrix.ts";

/** A fitted model: P(y = 1 | x) = sigmoid(x.w + b). */
export interface LogisticModel {
  readonly weights: Float64Array;
  readonly intercept: number;
}

/** Fit options. */
export interface LogisticOptions {
  readonly penalty: "l1" | "l2";
  /** Inverse regularization strength (scikit-learn's C). */
  readonly C: number;
  readonly maxIterations?: number;
  /** Stop when the optimality violation falls below this. */
  readonly tolerance?: number;
  readonly warmStart?: LogisticModel;
  /** Polled every iteration: stop when the work is abandoned. */
  readonly signal?: Cancellation;
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** log(1 + exp(z)) without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/** Margins z_i = x_i.w + b. */
function margins(x: Matrix, w: Float64Array, b: number): Float64Array {
  const z = new Float64Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    let s = b;
    for (let j = 0; j < x.cols; j++) s += x.data[i * x.cols + j] * w[j];
    z[i] = s;
  }
  return z;
}

/** C * sum_i logloss and its gradient (w then b) at (w, b). */
function dataTerm(x: Matrix, y: ArrayLike<number>, w: Float64Array, b: number, C: number) {
  const z = margins(x, w, b);
  let loss = 0;
  const g = new Float64Array(x.cols + 1);
  for (let i = 0; i < x.rows; i++) {
    // y in {0,1}: logloss = softplus(z) - y z; derivative p - y.
    loss += softplus(z[i]) - y[i] * z[i];
    const r = C * (sigmoid(z[i]) - y[i]);
    for (let j = 0; j < x.cols; j++) g[j] += r * x.data[i * x.cols + j];
    g[x.cols] += r;
  }
  return { loss: C * loss, grad: g, z };
}

/** Solve A v = r for a symmetric positive definite A (Cholesky), in place of a copy. */
function solveSpd(a: Float64Array, r: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      if (i === j) l[i * n + i] = Math.sqrt(Math.max(s, 1e-300));
      else l[i * n + j] = s / l[j * n + j];
    }
  }
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = r[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * v[k];
    v[i] = s / l[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = v[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * v[k];
    v[i] = s / l[i * n + i];
  }
  return v;
}

function fitL2Newton(x: Matrix, y: ArrayLike<number>, options: LogisticOptions): LogisticModel {
  const d = x.cols;
  const n = d + 1;
  let w = Float64Array.from(options.warmStart?.weights ?? new Float64Array(d));
  let b = options.warmStart?.intercept ?? 0;
  const objective = (wv: Float64Array, bv: number) => {
    let reg = 0;
    for (const v of wv) reg += v * v;
    return 0.5 * reg + dataTerm(x, y, wv, bv, options.C).loss;
  };
  for (let it = 0; it < (options.maxIterations ?? 100); it++) {
    options.signal?.throwIfAborted();
    const { grad, z } = dataTerm(x, y, w, b, options.C);
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
    const step = solveSpd(h, grad, n);
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

function fitL2Lbfgs(x: Matrix, y: ArrayLike<number>, options: LogisticOptions): LogisticModel {
  const d = x.cols;
  const n = d + 1;
  const theta = new Float64Array(n);
  if (options.warmStart) {
    theta.set(options.warmStart.weights);
    theta[d] = options.warmStart.intercept;
  }
  const evaluate = (t: Float64Array) => {
    const w = t.subarray(0, d);
    const { loss, grad } = dataTerm(x, y, w as Float64Array, t[d], options.C);
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

function fitL1(x: Matrix, y: ArrayLike<number>, options: LogisticOptions): LogisticModel {
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
    return l1 + dataTerm(x, y, wv, bv, options.C).loss;
  };
  let fPrev = objective(w, b);
  for (let it = 0; it < (options.maxIterations ?? 200000); it++) {
    options.signal?.throwIfAborted();
    const { grad } = dataTerm(x, y, vw, vb, options.C);
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
function fitL1Newton(x: Matrix, y: ArrayLike<number>, options: LogisticOptions): LogisticModel {
  const d = x.cols;
  const n = d + 1;
  let w = Float64Array.from(options.warmStart?.weights ?? new Float64Array(d));
  let b = options.warmStart?.intercept ?? 0;
  const objective = (wv: Float64Array, bv: number) => {
    let l1 = 0;
    for (const v of wv) l1 += Math.abs(v);
    return l1 + dataTerm(x, y, wv, bv, options.C).loss;
  };
  const tol = options.tolerance ?? 1e-10;
  for (let outer = 0; outer < (options.maxIterations ?? 100); outer++) {
    const { grad, z } = dataTerm(x, y, w, b, options.C);
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

/** Fit a logistic regression on rows `x` [n, d] and 0/1 labels `y`. */
export function fitLogistic(
  x: Matrix,
  y: ArrayLike<number>,
  options: LogisticOptions,
): LogisticModel {
  if (options.penalty === "l1") {
    return x.cols <= 256 ? fitL1Newton(x, y, options) : fitL1(x, y, options);
  }
  return x.cols <= 256 ? fitL2Newton(x, y, options) : fitL2Lbfgs(x, y, options);
}

/** P(y = 1) for each row of `x`. */
export function predictProba(model: LogisticModel, x: Matrix): Float64Array {
  return margins(x, model.weights, model.intercept).map(sigmoid);
}
