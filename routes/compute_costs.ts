/**
 * Cost checks of the compute routes (encode, decode, steer): each takes a validated request's
 * shape and the dictionary's sizes, bounds its array-valued options against what the
 * dictionary or the rows have (422), and checks the estimates of `domain/cost.ts` against the
 * budgets (413). Called by the handlers right before their work starts.
 * @module
 */

import {
  answerBytes,
  codesPerRow,
  decodeWork,
  type DictionaryDims,
  encodeWork,
  featureMapsNumbers,
  featureMapsWork,
  type Limits,
  steerWork,
} from "../domain/cost.ts";
import { SaeError } from "../domain/errors.ts";
import type { SparseRows } from "../domain/sae/matrix.ts";
import { type Intervention, needsCodes } from "../domain/sae/steer.ts";
import { checkTop, uniqueIndices, withinBudget } from "./limits.ts";

const FEWER_ROWS = "send fewer rows, or split the request";

/** The options of an encode request that cost something. */
export interface EncodeAsk {
  readonly top?: number;
  readonly include?: readonly string[];
  readonly grid?: readonly number[];
  readonly skip_tokens: number;
  readonly map_features?: readonly number[];
  readonly maps_top: number;
}

/**
 * Encode: `top` at most d_sae, `map_features` deduplicated and each < d_sae; the kernel and
 * feature-map work; the answer where its size is known before encoding (codes bounded by
 * `top` or k, reconstructions, maps). Returns the deduplicated `map_features` and the answer
 * bytes besides the codes (for {@link checkCodesAnswer}).
 */
export function checkEncode(
  limits: Limits,
  dims: DictionaryDims,
  request: { rows: number; options: EncodeAsk; binary: boolean },
): { mapFeatures?: number[]; otherBytes: number } {
  const { rows, options, binary } = request;
  checkTop(options.top, { bound: dims.dSae, boundName: "d_sae" });
  const mapFeatures = options.map_features &&
    uniqueIndices(options.map_features, {
      bound: dims.dSae,
      boundName: "d_sae",
      what: "map_features entry",
    });
  const extras = (options.include ?? []).filter((i) => i !== "metrics");
  let work = encodeWork(rows, dims, { decode: (options.include ?? []).length > 0 });
  let otherFloats = new Set(extras).size * rows * dims.dIn;
  if (options.grid) {
    const [h, w] = options.grid;
    const per = options.skip_tokens + h * w;
    if (rows % per !== 0) {
      throw new SaeError(
        "invalid",
        `${rows} activation rows are not a whole number of images of ${options.skip_tokens} + ${h} x ${w} tokens`,
      );
    }
    const maps = {
      patches: h * w,
      features: Math.min(mapFeatures?.length ?? options.maps_top, dims.dSae),
    };
    work += featureMapsWork(rows / per, dims, maps);
    otherFloats += featureMapsNumbers(rows / per, maps);
  }
  withinBudget(limits, "maxWork", {
    estimate: work,
    what: "the encode work",
    hint: options.grid ? "send fewer images or map fewer features" : FEWER_ROWS,
  });
  const otherBytes = answerBytes(otherFloats, { binary });
  const codes = options.top !== undefined || dims.k !== undefined
    ? rows * codesPerRow(dims, { top: options.top })
    : 0;
  withinBudget(limits, "maxAnswerBytes", {
    estimate: otherBytes + answerBytes(codes, { ints: codes, binary }),
    what: "the answer",
    hint: "send fewer rows, a smaller top, or fewer map_features",
  });
  return { mapFeatures, otherBytes };
}

/** After encoding, before serializing: the answer with the codes' real count. */
export function checkCodesAnswer(
  limits: Limits,
  codes: SparseRows,
  options: { otherBytes: number; binary: boolean },
): void {
  let nonZeros = 0;
  let widest = 0;
  for (const ix of codes.indices) {
    nonZeros += ix.length;
    widest = Math.max(widest, ix.length);
  }
  const listed = options.binary ? codes.indices.length * widest : nonZeros;
  withinBudget(limits, "maxAnswerBytes", {
    estimate: options.otherBytes + answerBytes(listed, { ints: listed, binary: options.binary }),
    what: "the answer",
    hint: "send fewer rows or a smaller top",
  });
}

/** Decode: the decoder work (dense codes, or `nonZeros` sparse codes) and the answer. */
export function checkDecode(
  limits: Limits,
  dims: DictionaryDims,
  request: { rows: number; nonZeros?: number; binary: boolean },
): void {
  withinBudget(limits, "maxWork", {
    estimate: decodeWork(request.rows, dims, { nonZeros: request.nonZeros }),
    what: "the decode work",
    hint: FEWER_ROWS,
  });
  withinBudget(limits, "maxAnswerBytes", {
    estimate: answerBytes(request.rows * dims.dIn, { binary: request.binary }),
    what: "the answer",
    hint: FEWER_ROWS,
  });
}

/**
 * Steer: every intervention's positions deduplicated and each < rows (422); the steering work
 * (rows x interventions, positions, the decode of the edits, projections) and the answer.
 * Returns the interventions with deduplicated positions.
 */
export function checkSteer(
  limits: Limits,
  dims: DictionaryDims,
  request: { rows: number; interventions: readonly Intervention[]; binary: boolean },
): Intervention[] {
  const { rows } = request;
  let positions = 0;
  const interventions = request.interventions.map((iv, n) => {
    if (!iv.positions) return iv;
    const unique = uniqueIndices(iv.positions, {
      bound: rows,
      boundName: "rows",
      what: `interventions[${n}]: position`,
    });
    positions += unique.length;
    return { ...iv, positions: unique };
  });
  const latent = ["add", "clamp", "scale", "ablate"];
  const work = steerWork(rows, dims, {
    interventions: interventions.length,
    positions,
    geometric: interventions.filter((iv) => iv.unit === "norm" || !latent.includes(iv.mode))
      .length,
    needsCodes: needsCodes(interventions),
    conditional: interventions.some((iv) => iv.when !== undefined),
  });
  withinBudget(limits, "maxWork", {
    estimate: work,
    what: "the steering work",
    hint: "send fewer rows or fewer interventions",
  });
  withinBudget(limits, "maxAnswerBytes", {
    estimate: answerBytes(rows * dims.dIn, { binary: request.binary }),
    what: "the answer",
    hint: FEWER_ROWS,
  });
  return interventions;
}
