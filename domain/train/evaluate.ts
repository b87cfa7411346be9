/**
 * How well a trained dictionary reconstructs: the fraction of variance unexplained, and for an
 * aligned dictionary its self-reconstruction and translation FVU between every pair of streams.
 * @module
 */

import { type AlignedDictionary, translate } from "../sae/aligned.ts";
import { type Matrix, matrix } from "../sae/matrix.ts";
import { topK } from "../sae/top_k.ts";
import type { SaeParams } from "./params.ts";

/** Fraction of variance unexplained: sum (pred - x)^2 / sum (x - mean x)^2. */
export function fvu(pred: Matrix, target: Matrix): number {
  const d = target.cols;
  const mean = new Float64Array(d);
  for (let i = 0; i < target.data.length; i++) mean[i % d] += target.data[i] / target.rows;
  let sse = 0;
  let sst = 0;
  for (let i = 0; i < target.data.length; i++) {
    sse += (pred.data[i] - target.data[i]) ** 2;
    sst += (target.data[i] - mean[i % d]) ** 2;
  }
  return sse / Math.max(sst, 1e-30);
}

/** Self and translation FVU of an aligned dictionary on paired rows. */
export interface AlignedFvu {
  /** Per stream: encoded alone (TopK), decoded into itself. */
  readonly self: Record<string, number>;
  /** Per "from->to" pair of streams: encoded from `from` alone, decoded into `to`. */
  readonly cross: Record<string, number>;
}

/** Self and translation FVU of `dict` on paired `rows` (each stream's rows, same count). */
export function alignedFvu(dict: AlignedDictionary, rows: Map<string, Matrix>): AlignedFvu {
  const self: Record<string, number> = {};
  const cross: Record<string, number> = {};
  for (const [from, x] of rows) {
    for (const [to, y] of rows) {
      const value = fvu(translate(dict, x, { from, to }), y);
      if (from === to) self[from] = value;
      else cross[`${from}->${to}`] = value;
    }
  }
  return { self, cross };
}

/** FVU of TopK parameters (raw scale, as trained) on rows `x`: h = (x - b_dec) W_enc + b_enc. */
export function topkFvu(params: SaeParams, x: Matrix, options: { k: number }): number {
  const { dIn: d, dSae: n } = params;
  const recon = matrix([x.rows, d]);
  const h = new Float32Array(n);
  for (let r = 0; r < x.rows; r++) {
    h.set(params.bEnc);
    for (let c = 0; c < d; c++) {
      const v = x.data[r * d + c] - params.bDec[c];
      for (let i = 0; i < n; i++) h[i] += v * params.wEnc[c * n + i];
    }
    const acc = Float64Array.from(params.bDec);
    for (const i of topK(h, options.k).indices) {
      if (h[i] <= 0) continue;
      for (let c = 0; c < d; c++) acc[c] += h[i] * params.wDec[i * d + c];
    }
    recon.data.set(acc, r * d);
  }
  return fvu(recon, x);
}
