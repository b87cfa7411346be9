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

/**
 * The `top` features whose decoder rows have the largest cosine similarity with `feature`'s
 * (itself left out; ties: lower feature first). One pass over W_dec: O(d_sae * d_in).
 */
export function nearestFeatures(
  wDec: Matrix,
  feature: number,
  options: { top: number },
): Neighbour[] {
  const d = wDec.cols;
  const w = wDec.data;
  const at = feature * d;
  const norm = decoderNorm(wDec, feature);
  const out: Neighbour[] = [];
  for (let f = 0; f < wDec.rows; f++) {
    if (f === feature) continue;
    let dot = 0;
    let sq = 0;
    const base = f * d;
    for (let c = 0; c < d; c++) {
      dot += w[at + c] * w[base + c];
      sq += w[base + c] * w[base + c];
    }
    const denominator = norm * Math.sqrt(sq);
    const cosine = denominator > 0 ? dot / denominator : 0;
    if (out.length < options.top || cosine > out[out.length - 1].cosine) {
      out.push({ feature: f, cosine });
      out.sort((a, b) => b.cosine - a.cosine || a.feature - b.feature);
      if (out.length > options.top) out.pop();
    }
  }
  return out;
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
