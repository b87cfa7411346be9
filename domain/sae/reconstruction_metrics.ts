/**
 * Reconstruction quality of a batch, as SAEBench reports it: L0, MSE, fraction of variance
 * unexplained, cosine similarity between x and its reconstruction.
 * @module
 */

import { type Matrix, row, type SparseRows } from "./matrix.ts";

/** Batch means plus the per-row values behind them. */
export interface ReconstructionMetrics {
  /** Mean number of non-zero codes per row. */
  readonly l0: number;
  /** Mean squared error over every element. */
  readonly mse: number;
  /**
   * sum ||x - x_hat||^2 / sum ||x - mean_batch(x)||^2; null for one row (no batch variance).
   */
  readonly fvu: number | null;
  /** Mean cosine(x, x_hat) over rows (a zero row counts as 0). */
  readonly cosine: number;
  readonly per_row: { readonly l0: number[]; readonly mse: number[]; readonly cosine: number[] };
}

/** Metrics of `reconstruction` against `x`, with the codes that produced it. */
export function reconstructionMetrics(
  x: Matrix,
  result: { reconstruction: Matrix; codes: SparseRows },
): ReconstructionMetrics {
  const { reconstruction, codes } = result;
  const l0: number[] = [];
  const mse: number[] = [];
  const cosine: number[] = [];
  const mean = new Float64Array(x.cols);
  for (let r = 0; r < x.rows; r++) {
    const a = row(x, r);
    for (let c = 0; c < x.cols; c++) mean[c] += a[c] / x.rows;
  }
  let residual = 0;
  let total = 0;
  for (let r = 0; r < x.rows; r++) {
    const a = row(x, r);
    const b = row(reconstruction, r);
    let err = 0, dot = 0, na = 0, nb = 0;
    for (let c = 0; c < x.cols; c++) {
      err += (a[c] - b[c]) ** 2;
      dot += a[c] * b[c];
      na += a[c] * a[c];
      nb += b[c] * b[c];
      total += (a[c] - mean[c]) ** 2;
    }
    residual += err;
    l0.push(codes.values[r].reduce((n, v) => n + (v !== 0 ? 1 : 0), 0));
    mse.push(err / x.cols);
    cosine.push(na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0);
  }
  const avg = (v: number[]) => (v.length ? v.reduce((s, e) => s + e, 0) / v.length : 0);
  return {
    l0: avg(l0),
    mse: avg(mse),
    fvu: x.rows > 1 && total > 0 ? residual / total : null,
    cosine: avg(cosine),
    per_row: { l0, mse, cosine },
  };
}
