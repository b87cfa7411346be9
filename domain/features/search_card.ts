/**
 * What a feature card computes from a dictionary's weights: the decoder row's norm, the
 * features whose decoder rows point the same way (cosine similarity), and the tokens a
 * logit lens promotes most and least.
 * @module
 */

import type { Matrix } from "../sae/matrix.ts";

/** A feature and its decoder cosine to the card's feature. */
export interface Neighbour {
  readonly feature: number;
  readonly cosine: number;
}

/** One token of a logit lens, with its raw logit. */
export interface LensLogit {
  readonly id: number;
  readonly token: string;
  readonly logit: number;
}

/** The L2 norm of decoder row `feature` of `wDec` [d_sae, d_in]. */
export function decoderNorm(wDec: Matrix, feature: number): number {
  let sq = 0;
  const at = feature * wDec.cols;
  for (let c = 0; c < wDec.cols; c++) sq += wDec.data[at + c] * wDec.data[at + c];
  return Math.sqrt(sq);
}

/** Options of {@link nearestRows}. */
export interface NearestRowsOptions {
  /** How many neighbours to keep. */
  readonly top: number;
  /** The feature of the block's first row (default 0). */
  readonly offset?: number;
  /** A feature left out (the card's own). */
  readonly skip?: number;
}

/**
 * The `top` rows of `block` (decoder rows of features offset, offset + 1, ...) with the largest
 * cosine similarity to `direction`, a unit vector (ties: lower feature first). A zero row or
 * direction has cosine 0. Blocks of one W_dec are merged with {@link mergeNeighbours}.
 */
export function nearestRows(
  block: Matrix,
  direction: Float32Array | Float64Array,
  options: NearestRowsOptions,
): Neighbour[] {
  const d = block.cols;
  const w = block.data;
  const offset = options.offset ?? 0;
  const out: Neighbour[] = [];
  for (let r = 0; r < block.rows; r++) {
    const feature = offset + r;
    if (feature === options.skip) continue;
    let dot = 0;
    let sq = 0;
    const base = r * d;
    for (let c = 0; c < d; c++) {
      dot += direction[c] * w[base + c];
      sq += w[base + c] * w[base + c];
    }
    const cosine = sq > 0 ? dot / Math.sqrt(sq) : 0;
    if (out.length < options.top || cosine > out[out.length - 1].cosine) {
      out.push({ feature, cosine });
      out.sort(byCosine);
      if (out.length > options.top) out.pop();
    }
  }
  return out;
}

function byCosine(a: Neighbour, b: Neighbour): number {
  return b.cosine - a.cosine || a.feature - b.feature;
}

/** The best `top` of several blocks' neighbours (ties: lower feature first). */
export function mergeNeighbours(
  lists: readonly (readonly Neighbour[])[],
  options: { top: number },
): Neighbour[] {
  return lists.flat().sort(byCosine).slice(0, options.top);
}

/**
 * The `top` features whose decoder rows have the largest cosine similarity with `feature`'s
 * (itself left out; ties: lower feature first). One pass over W_dec: O(d_sae * d_in).
 */
export function nearestFeatures(
  wDec: Matrix,
  feature: number,
  options: { top: number },
): Neighbour[] {
  const norm = decoderNorm(wDec, feature);
  const row = wDec.data.subarray(feature * wDec.cols, (feature + 1) * wDec.cols);
  const direction = Float64Array.from(row, (v) => (norm > 0 ? v / norm : 0));
  return nearestRows(wDec, direction, { top: options.top, skip: feature });
}

/** The `top` highest and lowest logits of one row (ties: lower id first). */
export function lensExtremes(
  logits: ArrayLike<number>,
  options: { top: number; tokens: readonly string[] },
): { top: LensLogit[]; bottom: LensLogit[] } {
  const ids = Array.from({ length: logits.length }, (_, i) => i);
  const token = (id: number): LensLogit => ({
    id,
    token: options.tokens[id] ?? `<${id}>`,
    logit: logits[id],
  });
  const up = [...ids].sort((a, b) => logits[b] - logits[a] || a - b).slice(0, options.top);
  const down = ids.sort((a, b) => logits[a] - logits[b] || a - b).slice(0, options.top);
  return { top: up.map(token), bottom: down.map(token) };
}
