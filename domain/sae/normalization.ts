/**
 * Per-row input normalization and its exact inverse on the output side, with the statistics
 * of the same row (SAELens run-time normalizations).
 *   constant_norm_rescale: c = sqrt(d_in) / ||x||;  in x * c;  out y / c
 *   layer_norm: mu, sd (unbiased) of x;  in (x - mu) / (sd + 1e-5);  out y * sd + mu
 * @module
 */

import type { Normalization } from "./dictionary.ts";
import { SaeError } from "../errors.ts";
import { type Matrix, matrix, row } from "./matrix.ts";

/** Per-row affine maps: in(x) = (x - inShift) * inScale; out(y) = y * outScale + outShift. */
export interface RowStatistics {
  readonly inShift: Float32Array;
  readonly inScale: Float32Array;
  readonly outScale: Float32Array;
  readonly outShift: Float32Array;
}

/** The layer_norm epsilon SAELens adds to the standard deviation. */
export const LAYER_NORM_EPS = 1e-5;

/** Statistics of each row of `x` for `kind` (identity maps for "none"). */
export function rowStatistics(kind: Normalization, x: Matrix): RowStatistics {
  const inShift = new Float32Array(x.rows);
  const inScale = new Float32Array(x.rows).fill(1);
  const outScale = new Float32Array(x.rows).fill(1);
  const outShift = new Float32Array(x.rows);
  for (let r = 0; r < x.rows && kind !== "none"; r++) {
    const v = row(x, r);
    if (kind === "constant_norm_rescale") {
      let sq = 0;
      for (let c = 0; c < v.length; c++) sq += v[c] * v[c];
      if (sq === 0) {
        throw new SaeError(
          "invalid",
          `row ${r} is all zeros; constant_norm_rescale needs a non-zero norm`,
        );
      }
      const scale = Math.sqrt(x.cols) / Math.sqrt(sq);
      inScale[r] = scale;
      outScale[r] = 1 / scale;
    } else {
      let sum = 0;
      for (let c = 0; c < v.length; c++) sum += v[c];
      const mu = sum / v.length;
      let sq = 0;
      for (let c = 0; c < v.length; c++) sq += (v[c] - mu) ** 2;
      const sd = v.length > 1 ? Math.sqrt(sq / (v.length - 1)) : 0;
      inShift[r] = mu;
      inScale[r] = 1 / (sd + LAYER_NORM_EPS);
      outScale[r] = sd;
      outShift[r] = mu;
    }
  }
  return { inShift, inScale, outScale, outShift };
}

/** s = in(x) - preBias, a new matrix. */
export function normalizeIn(
  stats: RowStatistics,
  x: Matrix,
  options: { preBias: Float32Array | null },
): Matrix {
  const { preBias } = options;
  const s = matrix([x.rows, x.cols]);
  for (let r = 0; r < x.rows; r++) {
    const src = row(x, r);
    const dst = row(s, r);
    const shift = stats.inShift[r];
    const scale = stats.inScale[r];
    for (let c = 0; c < x.cols; c++) {
      dst[c] = (src[c] - shift) * scale - (preBias ? preBias[c] : 0);
    }
  }
  return s;
}

/** y = out(y), in place. */
export function normalizeOut(stats: RowStatistics, y: Matrix): Matrix {
  for (let r = 0; r < y.rows; r++) {
    const v = row(y, r);
    const scale = stats.outScale[r];
    const shift = stats.outShift[r];
    if (scale === 1 && shift === 0) continue;
    for (let c = 0; c < y.cols; c++) v[c] = v[c] * scale + shift;
  }
  return y;
}
