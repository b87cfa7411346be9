/**
 * Per-route cost checks: each takes a validated request's shape and the dictionary's sizes,
 * bounds its array-valued options against what the dictionary or the rows have (422), and
 * checks the estimates of `domain/cost.ts` against the budgets (413). Called by the handlers
 * right before their work starts.
 * @module
 */

import {
  alignedWork,
  answerBytes,
  circuitAnswerNumbers,
  circuitWork,
  codesPerRow,
  decodeWork,
  type DictionaryDims,
  encodeWork,
  featureMapsNumbers,
  featureMapsWork,
  lensWork,
  type Limits,
  outputScoreWork,
  probeAnswerNumbers,
  probePredictWork,
  probeTrainWork,
  scanWork,
  steerWork,
} from "../domain/cost.ts";
import { SaeError } from "../domain/errors.ts";
import { checkImageHeader } from "../domain/io/image_codec.ts";
import type { SparseRows } from "../domain/sae/matrix.ts";
import { type Intervention, needsCodes } from "../domain/sae/steer.ts";
import { checkTop, uniqueIndices, withinBudget } from "./limits.ts";
import { LIST_LIMITS } from "./schemas.ts";

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

/**
 * Probe training: fitting every method over its grids and folds (probe budget), encoding the
 * rows for the sae method (kernel budget), and the answer (the best probe may keep every row).
 */
export function checkProbeTrain(
  limits: Limits,
  dims: DictionaryDims | null,
  request: {
    rows: number;
    cols: number;
    positives: number;
    testRows: number;
    methods: readonly ("sae" | "logistic" | "pca" | "knn")[];
    ks: readonly number[];
  },
): void {
  const shape = {
    rows: request.rows,
    cols: request.cols,
    positives: request.positives,
    testRows: request.testRows,
  };
  withinBudget(limits, "maxProbeWork", {
    estimate: probeTrainWork(shape, {
      methods: request.methods,
      ks: request.ks,
      dSae: dims?.dSae,
    }),
    what: "fitting the probes",
    hint: "send fewer rows, fewer methods or fewer k values",
  });
  if (dims) {
    withinBudget(limits, "maxWork", {
      estimate: encodeWork(request.rows + request.testRows, dims),
      what: "encoding the rows",
      hint: FEWER_ROWS,
    });
  }
  const numbers = probeAnswerNumbers(shape, {
    methods: request.methods.length + request.ks.length,
  });
  withinBudget(limits, "maxAnswerBytes", {
    estimate: answerBytes(numbers),
    what: "the answer",
    hint: FEWER_ROWS,
  });
}

/** Probe prediction: applying the document to `rows` (probe budget), and the sae encode. */
export function checkProbePredict(
  limits: Limits,
  dims: DictionaryDims | null,
  request: { rows: number; cols: number; components?: number; neighbours?: number },
): void {
  withinBudget(limits, "maxProbeWork", {
    estimate: probePredictWork(request.rows, request.cols, request),
    what: "applying the probe",
    hint: FEWER_ROWS,
  });
  if (dims) {
    withinBudget(limits, "maxWork", {
      estimate: encodeWork(request.rows, dims),
      what: "encoding the rows",
      hint: FEWER_ROWS,
    });
  }
}

/**
 * Circuit discovery: at most {@link LIST_LIMITS}.heads heads (edge scoring is quadratic in
 * them), `ground_truth` deduplicated, the training and scoring work, and the answer. Returns
 * the deduplicated ground truth.
 */
export function checkCircuit(
  limits: Limits,
  shape: { examples: number; heads: number; dModel: number },
  request: { epochs: number; latents: number; trainExamples: number; groundTruth?: number[] },
): number[] | undefined {
  if (shape.heads > LIST_LIMITS.heads) {
    throw new SaeError(
      "too_large",
      `head_outputs has ${shape.heads} heads; at most ${LIST_LIMITS.heads} (edge scoring compares every pair)`,
    );
  }
  const truth = request.groundTruth &&
    uniqueIndices(request.groundTruth, {
      bound: shape.heads,
      boundName: "heads",
      what: "ground_truth head",
    });
  withinBudget(limits, "maxCircuitWork", {
    estimate: circuitWork(shape, request),
    what: "the circuit discovery work (epochs x training rows x d_model x latents, and head pairs)",
    hint: "lower epochs or latents, or send fewer examples or heads",
  });
  withinBudget(limits, "maxAnswerBytes", {
    estimate: answerBytes(circuitAnswerNumbers(shape)),
    what: "the answer",
    hint: "send fewer heads",
  });
  return truth;
}

/** An aligned dictionary's sizes. */
export interface AlignedDictDims {
  readonly latents: number;
  readonly k: number;
  readonly streams: readonly { readonly name: string; readonly d: number }[];
}

/**
 * Aligned routes: encoding the rows of each named stream (plain TypeScript), the optional
 * decode into `decodeTo`, concept alignment over `classes`, and the answer.
 */
export function checkAligned(
  limits: Limits,
  dict: AlignedDictDims,
  request: {
    streams: ReadonlyMap<string, { readonly rows: number }>;
    decodeTo?: string;
    classes?: number;
  },
): void {
  const width = (name: string) => dict.streams.find((s) => s.name === name)?.d ?? 0;
  const decodeTo = request.decodeTo === undefined ? undefined : width(request.decodeTo);
  const rows = [...request.streams.values()].reduce((r, m) => Math.max(r, m.rows), 0);
  withinBudget(limits, "maxWork", {
    estimate: alignedWork(rows, dict, {
      streamWidths: [...request.streams.keys()].map(width),
      decodeTo,
      classes: request.classes,
    }),
    what: "the aligned work",
    hint: FEWER_ROWS,
  });
  const numbers = decodeTo !== undefined
    ? rows * decodeTo
    : request.classes !== undefined
    ? 3 * dict.latents
    : rows * (1 + 2 * request.streams.size * dict.k);
  withinBudget(limits, "maxAnswerBytes", {
    estimate: answerBytes(numbers),
    what: "the answer",
    hint: FEWER_ROWS,
  });
}
