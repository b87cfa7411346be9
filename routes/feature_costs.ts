/**
 * Cost checks of the feature and vision routes (logit lens, input and output score, feature
 * statistics, heatmap, semantic probe): bounds on `top` (422) and the work and answer
 * estimates of `domain/cost.ts` against the budgets (413), before the work starts.
 * @module
 */

import {
  answerBytes,
  type DictionaryDims,
  encodeWork,
  lensWork,
  type Limits,
  outputScoreWork,
  scanWork,
  steerWork,
} from "../domain/cost.ts";
import { checkImageHeader } from "../domain/io/image_header.ts";
import type { SparseRows } from "../domain/sae/matrix.ts";
import { checkTop, withinBudget } from "./limits.ts";

const FEWER_ROWS = "send fewer rows, or split the request";

/** A model head's sizes. */
export interface HeadDims {
  readonly dModel: number;
  readonly vocab: number;
}

/**
 * The feature-scoring routes: `top` at most the vocabulary; the work of the logit lens,
 * encoding `rows` and scanning their codes (input score), steering one row per feature and
 * scoring the steered distributions (output score), and the answer's size.
 */
export function checkFeatureScores(
  limits: Limits,
  model: { dims: DictionaryDims; head?: HeadDims },
  request: {
    features: number;
    top?: number;
    rows?: number;
    steered?: boolean;
    scored?: boolean;
    answerNumbers: number;
  },
): void {
  const { dims, head } = model;
  const { features } = request;
  if (head) checkTop(request.top, { bound: head.vocab, boundName: "the vocabulary size" });
  let work = head ? lensWork(features, head, { top: request.top }) : 0;
  if (request.rows !== undefined) {
    work += encodeWork(request.rows, dims) + scanWork(request.rows, dims, { features });
  }
  if (request.steered) {
    work += steerWork(features, dims, {
      interventions: features,
      positions: features,
      geometric: 0,
      needsCodes: true,
      conditional: false,
    });
    if (head && request.scored) work += features * head.dModel * head.vocab;
  }
  if (head && request.scored) work += outputScoreWork(features, head, { top: request.top ?? 1 });
  withinBudget(limits, "maxWork", {
    estimate: work,
    what: "the feature-scoring work",
    hint: request.rows === undefined ? "send fewer features" : "send fewer rows or features",
  });
  withinBudget(limits, "maxAnswerBytes", {
    estimate: answerBytes(request.answerNumbers, { ints: request.answerNumbers }),
    what: "the answer",
    hint: "send fewer features or a smaller top",
  });
}

/** Feature statistics: encoding and scanning `rows` (before); the answer (after encoding). */
export function checkFeatureStats(
  limits: Limits,
  dims: DictionaryDims,
  request: { rows: number; features?: number; topRows: number; codes?: SparseRows },
): void {
  if (!request.codes) {
    withinBudget(limits, "maxWork", {
      estimate: encodeWork(request.rows, dims) + scanWork(request.rows, dims, { features: 4 }),
      what: "the statistics work",
      hint: FEWER_ROWS,
    });
    return;
  }
  let nonZeros = 0;
  for (const ix of request.codes.indices) nonZeros += ix.length;
  const listed = Math.min(nonZeros, (request.features ?? dims.dSae) * request.topRows);
  const features = Math.min(request.features ?? dims.dSae, nonZeros);
  withinBudget(limits, "maxAnswerBytes", {
    estimate: answerBytes(listed + 3 * features, { ints: 2 * listed + features }),
    what: "the answer",
    hint: "send fewer rows, list features, or lower top_rows",
  });
}

/**
 * Heatmap: the uploaded image's header (413 beyond the pixel limit, read before decoding),
 * the output's pixels (`size`, else the image's, else 16 per patch), and the encode work.
 */
export function checkHeatmap(
  limits: Limits,
  dims: DictionaryDims,
  request: { rows: number; grid: readonly number[]; size?: readonly number[]; image?: Uint8Array },
): void {
  const header = request.image
    ? checkImageHeader(request.image, { maxPixels: limits.maxImagePixels })
    : null;
  const [width, height] = request.size ??
    (header ? [header.width, header.height] : [request.grid[1] * 16, request.grid[0] * 16]);
  withinBudget(limits, "maxImagePixels", {
    estimate: width * height,
    what: `the ${width} x ${height} heatmap`,
    hint: "ask for a smaller size",
  });
  withinBudget(limits, "maxWork", {
    estimate: encodeWork(request.rows, dims),
    what: "the encode work",
    hint: FEWER_ROWS,
  });
}

/** Semantic probe: `top` at most d_sae; encoding `rows` and scanning every patch's codes. */
export function checkSemanticProbe(
  limits: Limits,
  dims: DictionaryDims,
  request: { rows: number; top?: number },
): void {
  checkTop(request.top, { bound: dims.dSae, boundName: "d_sae" });
  withinBudget(limits, "maxWork", {
    estimate: encodeWork(request.rows, dims) + scanWork(request.rows, dims, { features: 4 }),
    what: "the semantic-probe work",
    hint: "send fewer images",
  });
}
