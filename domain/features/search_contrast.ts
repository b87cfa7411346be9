/**
 * Contrastive feature search (Goodfire's `features.contrast`): given the codes of a
 * "positive" and a "negative" set of activation rows, rank features by the difference of
 * their mean activation over each set (a row where a feature does not fire counts 0).
 * @module
 */

import type { SparseRows } from "../sae/matrix.ts";

/** One feature's means over the two sets. */
export interface ContrastHit {
  readonly feature: number;
  readonly positiveMean: number;
  readonly negativeMean: number;
  /** positiveMean - negativeMean. */
  readonly difference: number;
}

/** The mean of each feature's code over the rows of `codes` (dense, [width]). */
export function meanCodes(codes: SparseRows): Float64Array {
  const sum = new Float64Array(codes.width);
  const rows = codes.indices.length;
  for (let r = 0; r < rows; r++) {
    const ix = codes.indices[r];
    const v = codes.values[r];
    for (let j = 0; j < ix.length; j++) sum[ix[j]] += v[j];
  }
  if (rows > 0) { for (let f = 0; f < sum.length; f++) sum[f] /= rows; }
  return sum;
}

/**
 * The `top` features most active in `positive` over `negative` (and, with `both`, also the
 * `top` most active in `negative`, after them), largest |difference| first within each side;
 * features whose difference is 0 are left out. Ties: lower feature first.
 */
export function contrastFeatures(
  positive: SparseRows,
  negative: SparseRows,
  options: { top: number; both?: boolean },
): { positive: ContrastHit[]; negative: ContrastHit[] } {
  if (positive.width !== negative.width) {
    throw new RangeError(`code widths differ: ${positive.width} and ${negative.width}`);
  }
  const p = meanCodes(positive);
  const n = meanCodes(negative);
  const hits: ContrastHit[] = [];
  for (let f = 0; f < p.length; f++) {
    const difference = p[f] - n[f];
    if (difference !== 0) {
      hits.push({ feature: f, positiveMean: p[f], negativeMean: n[f], difference });
    }
  }
  const up = hits.filter((h) => h.difference > 0)
    .sort((a, b) => b.difference - a.difference || a.feature - b.feature);
  const down = options.both
    ? hits.filter((h) => h.difference < 0)
      .sort((a, b) => a.difference - b.difference || a.feature - b.feature)
    : [];
  return { positive: up.slice(0, options.top), negative: down.slice(0, options.top) };
}
