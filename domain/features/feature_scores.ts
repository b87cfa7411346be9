/**
 * Scoring features for steering (Arad, Mueller, Belinkov 2025): the logit lens of a latent
 * (decoder row -> final norm -> unembedding -> softmax), its input score (do its
 * top-activating examples peak on its logit-lens tokens?), its output score (does adding it
 * move the next-token distribution to those tokens?), corpus statistics, and summed steering
 * directions for export.
 * @module
 */

import { SaeError } from "../errors.ts";
import type { Backend } from "../../backends/backend.ts";
import { applyFinalNorm, type ModelHead, softmax } from "./head.ts";
import { type Matrix, matrix, type SparseRows } from "../sae/matrix.ts";
import { topK } from "../sae/top_k.ts";

/** One token of a logit lens. */
export interface LensToken {
  readonly id: number;
  readonly token: string;
  readonly prob: number;
}

/** Logits [rows, vocab] of activations `x` [rows, d_model] through the head's norm and unembedding. */
export async function headLogits(
  backend: Backend,
  input: { head: ModelHead; x: Matrix },
): Promise<Matrix> {
  const { head, x } = input;
  return await backend.matmul(applyFinalNorm(head.norm, x), head.wU, { transposeB: true });
}

/** The `top` most probable tokens of each row of logits (ties: lower id first). */
export function topTokens(
  head: ModelHead,
  logits: Matrix,
  options: { top: number },
): LensToken[][] {
  const { top } = options;
  const out: LensToken[][] = [];
  for (let r = 0; r < logits.rows; r++) {
    const probs = softmax(logits.data.subarray(r * logits.cols, (r + 1) * logits.cols));
    const chosen = topK(Float32Array.from(probs), top);
    out.push([...chosen.indices].map((id) => ({ id, token: head.tokens[id], prob: probs[id] })));
  }
  return out;
}

/** Logit lens of each decoder direction (rows of `directions`, [n, d_model], no bias). */
export async function logitLens(
  backend: Backend,
  head: ModelHead,
  options: { directions: Matrix; top: number },
): Promise<LensToken[][]> {
  return topTokens(head, await headLogits(backend, { head, x: options.directions }), {
    top: options.top,
  });
}

/** The output score of one steered next-token distribution. */
export interface OutputScore {
  /** (1 - minRank / vocab) * maxProb. */
  readonly score: number;
  /** Best rank (0 = most likely) among the logit-lens tokens; ties share the better rank. */
  readonly minRank: number;
  /** Highest probability among the logit-lens tokens. */
  readonly maxProb: number;
}

/** Score next-token `logits` [vocab] against a feature's logit-lens token ids. */
export function outputScore(logits: ArrayLike<number>, lensIds: readonly number[]): OutputScore {
  const probs = softmax(logits);
  let minRank = Infinity;
  let maxProb = 0;
  for (const id of lensIds) {
    let rank = 0;
    for (let u = 0; u < logits.length; u++) if (logits[u] > logits[id]) rank++;
    minRank = Math.min(minRank, rank);
    maxProb = Math.max(maxProb, probs[id]);
  }
  return { score: (1 - minRank / logits.length) * maxProb, minRank, maxProb };
}

/** One example used by an input score. */
export interface ScoredExample {
  readonly exampleId: number;
  readonly tokenId: number;
  readonly activation: number;
}

/** The activation of `feature` in row `r` of sparse codes (0 when not listed). */
function activation(codes: SparseRows, r: number, feature: number): number {
  const at = codes.indices[r].indexOf(feature);
  return at >= 0 ? codes.values[r][at] : 0;
}

/**
 * Input score of `feature`: over its top-activating examples (at most `maxExamples`, by the
 * example's max activation, ties by lower example id), the fraction whose max-activating
 * token is one of `lensIds`. 0 with no examples when the feature never fires.
 */
export function inputScore(
  codes: SparseRows,
  options: {
    feature: number;
    tokenIds: ArrayLike<number>;
    exampleIds: ArrayLike<number>;
    lensIds: readonly number[];
    maxExamples?: number;
  },
): { score: number; examples: ScoredExample[] } {
  const best = new Map<number, ScoredExample>();
  for (let r = 0; r < codes.indices.length; r++) {
    const a = activation(codes, r, options.feature);
    const id = options.exampleIds[r];
    const seen = best.get(id);
    if (!seen || a > seen.activation) {
      best.set(id, { exampleId: id, tokenId: options.tokenIds[r], activation: a });
    }
  }
  const examples = [...best.values()]
    .filter((e) => e.activation > 0)
    .sort((a, b) => b.activation - a.activation || a.exampleId - b.exampleId)
    .slice(0, options.maxExamples ?? 100);
  const lens = new Set(options.lensIds);
  const hits = examples.filter((e) => lens.has(e.tokenId)).length;
  return { score: examples.length ? hits / examples.length : 0, examples };
}

/** Corpus statistics of one feature. */
export interface FeatureStats {
  readonly feature: number;
  /** Fraction of rows where it fires. */
  readonly density: number;
  /** Mean activation over all rows. */
  readonly mean: number;
  readonly max: number;
  /** Up to `topRows` rows with the highest activation (ties: lower row first). */
  readonly topRows: { row: number; activation: number; tokenId?: number }[];
}

/** Statistics of every feature that fires in `codes` (or of `features`), by feature id. */
export function featureStats(
  codes: SparseRows,
  options?: { tokenIds?: ArrayLike<number>; features?: readonly number[]; topRows?: number },
): FeatureStats[] {
  const rows = codes.indices.length;
  const byFeature = new Map<number, { row: number; activation: number }[]>();
  for (const f of options?.features ?? []) byFeature.set(f, []);
  for (let r = 0; r < rows; r++) {
    codes.indices[r].forEach((f, j) => {
      const v = codes.values[r][j];
      if (v <= 0) return;
      if (options?.features && !byFeature.has(f)) return;
      let list = byFeature.get(f);
      if (!list) byFeature.set(f, list = []);
      list.push({ row: r, activation: v });
    });
  }
  return [...byFeature.keys()].sort((a, b) => a - b).map((feature) => {
    const hits = byFeature.get(feature)!;
    const sum = hits.reduce((s, h) => s + h.activation, 0);
    const top = [...hits].sort((a, b) => b.activation - a.activation || a.row - b.row)
      .slice(0, options?.topRows ?? 10)
      .map((h) => options?.tokenIds ? { ...h, tokenId: options.tokenIds[h.row] } : h);
    return {
      feature,
      density: rows ? hits.length / rows : 0,
      mean: rows ? sum / rows : 0,
      max: hits.reduce((m, h) => Math.max(m, h.activation), 0),
      topRows: top,
    };
  });
}

/**
 * The summed steering direction sum_i strength_i * v_i, with v_i the decoder row ("activation"
 * units) or its unit-norm direction ("norm"); `normalize` scales the sum to unit length.
 */
export function steeringVector(
  features: readonly { feature: number; strength: number }[],
  options: {
    directions: Map<number, Float32Array>;
    norms: Map<number, number>;
    unit?: "activation" | "norm";
    normalize?: boolean;
  },
): Float32Array {
  const d = options.directions.values().next().value?.length ?? 0;
  const out = new Float64Array(d);
  for (const { feature, strength } of features) {
    const u = options.directions.get(feature)!;
    const scale = strength * (options.unit === "norm" ? 1 : options.norms.get(feature)!);
    for (let c = 0; c < d; c++) out[c] += scale * u[c];
  }
  if (options.normalize) {
    let sq = 0;
    for (const v of out) sq += v * v;
    const norm = Math.sqrt(sq);
    if (!(norm > 0)) {
      throw new SaeError(
        "invalid",
        "the features' directions cancel to a zero vector, which has no direction to normalize",
      );
    }
    for (let c = 0; c < d; c++) out[c] /= norm;
  }
  return Float32Array.from(out);
}

/** Rows of `directions` (unit decoder directions times their norms) as a matrix in `features` order. */
export function decoderRows(
  features: readonly number[],
  options: { directions: Map<number, Float32Array>; norms: Map<number, number> },
): Matrix {
  const d = options.directions.values().next().value?.length ?? 0;
  const out = matrix([features.length, d]);
  features.forEach((f, n) => {
    const u = options.directions.get(f)!;
    const norm = options.norms.get(f)!;
    for (let c = 0; c < d; c++) out.data[n * d + c] = u[c] * norm;
  });
  return out;
}
