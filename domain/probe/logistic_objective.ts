/**
 * The pieces both logistic-regression penalties share: the model and fit options, the
 * log-loss data term with its gradient, and a small SPD solver for Newton steps.
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

/** The logistic function, without overflow. */
export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** log(1 + exp(z)) without overflow. */
export function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/** Margins z_i = x_i.w + b of `model` (w, b). */
export function margins(x: Matrix, model: LogisticModel): Float64Array {
  const { weights: w, intercept: b } = model;
  const z = new Float64Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    let s = b;
    for (let j = 0; j < x.cols; j++) s += x.data[i * x.cols + j] * w[j];
    z[i] = s;
  }
  return z;
}

/** C * sum_i logloss and its gradient (w then b) at (w, b). */
export function dataTerm(
  x: Matrix,
  y: ArrayLike<number>,
  at: { readonly w: Float64Array; readonly b: number; readonly C: number },
): { loss: number; grad: Float64Array; z: Float64Array } {
  const { w, b, C } = at;
  const z = margins(x, { weights: w, intercept: b });
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

/** Solve A v = r for a symmetric positive definite n x n A (Cholesky, n = r.length). */
export function solveSpd(a: Float64Array, r: Float64Array): Float64Array {
  const n = r.length;
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
