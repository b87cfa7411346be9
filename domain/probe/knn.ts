/**
 * k-nearest-neighbour class probabilities (Euclidean; ties by lower training index), as
 * scikit-learn's KNeighborsClassifier with uniform weights.
 * @module
 */

import type { Cancellation } from "../cancellation.ts";
import type { Matrix } from "../sae/matrix.ts";

/** P(y = 1) of each test row: the share of positives among its k nearest training rows. */
export function knnProba(
  train: { x: Matrix; y: ArrayLike<number> },
  test: Matrix,
  options: { k: number; signal?: Cancellation },
): Float64Array {
  const { x, y } = train;
  const k = options.k;
  const kk = Math.max(1, Math.min(k, x.rows));
  const out = new Float64Array(test.rows);
  const dist = new Float64Array(x.rows);
  const order = Array.from({ length: x.rows }, (_, i) => i);
  for (let t = 0; t < test.rows; t++) {
    if ((t & 63) === 0) options?.signal?.throwIfAborted();
    for (let i = 0; i < x.rows; i++) {
      let s = 0;
      for (let j = 0; j < x.cols; j++) {
        s += (test.data[t * test.cols + j] - x.data[i * x.cols + j]) ** 2;
      }
      dist[i] = s;
    }
    order.sort((a, b) => dist[a] - dist[b] || a - b);
    let pos = 0;
    for (let r = 0; r < kk; r++) pos += y[order[r]] === 1 ? 1 : 0;
    out[t] = pos / kk;
  }
  return out;
}
