/**
 * Feature standardization (zero mean, unit population variance, as scikit-learn's
 * StandardScaler); constant features keep scale 1.
 * @module
 */

import { type Matrix, matrix } from "../sae/matrix.ts";

/** Per-feature mean and scale. */
export interface Scaler {
  readonly mean: Float64Array;
  readonly scale: Float64Array;
}

/** Fit a scaler on rows `x`. */
export function fitScaler(x: Matrix): Scaler {
  const { rows: n, cols: d } = x;
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x.data[i * d + j] / n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) sq[j] += (x.data[i * d + j] - mean[j]) ** 2 / n;
  }
  return { mean, scale: sq.map((v) => (v > 0 ? Math.sqrt(v) : 1)) };
}

/** Standardize rows with a fitted scaler. */
export function applyScaler(scaler: Scaler, x: Matrix): Matrix {
  return matrix(
    [x.rows, x.cols],
    Float32Array.from(x.data, (v, i) => (v - scaler.mean[i % x.cols]) / scaler.scale[i % x.cols]),
  );
}
