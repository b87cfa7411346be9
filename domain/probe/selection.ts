/**
 * Latent selection for sparse probes: rank latents by |mean(f | y = 1) - mean(f | y = 0)| on the
 * training rows, optionally after dividing each latent by its mean non-zero activation.
 * @module
 */

import type { SparseRows } from "../sae/matrix.ts";

/** Latent ids by decreasing mean difference (ties: lower id first); latents that never fire last. */
export function rankByMeanDifference(
  codes: SparseRows,
  y: ArrayLike<number>,
  options?: { normalized?: boolean },
): number[] {
  const n = codes.indices.length;
  const width = codes.width;
  const sum1 = new Float64Array(width);
  const sum0 = new Float64Array(width);
  const nonzeroSum = new Float64Array(width);
  const nonzeroCount = new Uint32Array(width);
  let n1 = 0;
  for (let r = 0; r < n; r++) {
    const positive = y[r] === 1;
    if (positive) n1++;
    codes.indices[r].forEach((i, j) => {
      const v = codes.values[r][j];
      (positive ? sum1 : sum0)[i] += v;
      if (v !== 0) {
        nonzeroSum[i] += v;
        nonzeroCount[i]++;
      }
    });
  }
  const n0 = n - n1;
  const score = new Float64Array(width);
  for (let i = 0; i < width; i++) {
    let diff = Math.abs((n1 ? sum1[i] / n1 : 0) - (n0 ? sum0[i] / n0 : 0));
    if (options?.normalized && nonzeroCount[i] > 0) diff /= nonzeroSum[i] / nonzeroCount[i];
    score[i] = diff;
  }
  return Array.from({ length: width }, (_, i) => i).sort((a, b) => score[b] - score[a] || a - b);
}
