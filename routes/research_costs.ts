/**
 * Cost checks of the research routes (probe training and prediction, circuit discovery,
 * aligned dictionaries): list bounds (413 / 422) and the work and answer estimates of
 * `domain/cost.ts` against the budgets (413), before the work starts.
 * @module
 */

import {
  alignedWork,
  answerBytes,
  circuitAnswerNumbers,
  circuitWork,
  type DictionaryDims,
  encodeWork,
  type Limits,
  probeAnswerNumbers,
  probePredictWork,
  probeTrainWork,
} from "../domain/cost.ts";
import { SaeError } from "../domain/errors.ts";
import { uniqueIndices, withinBudget } from "./limits.ts";
import { LIST_LIMITS } from "./schemas.ts";

const FEWER_ROWS = "send fewer rows, or split the request";

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
