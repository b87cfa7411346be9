/**
 * What a request will cost, estimated from its shape before any work starts, and the budgets
 * the estimates are checked against. One unit everywhere: a **work unit** is one multiply-add
 * of the WASM kernels (about 40 per ns on the project's 2-core machine); a step of a plain
 * TypeScript loop counts {@link SCRIPT_OP} units. Estimates follow the code they describe
 * (`sae.ts`, `steer.ts`, `vision.ts`, `feature_scores.ts`, `aligned.ts`, `probe/`,
 * `circuits.ts`) closely enough to stay within a few times of measured run time; they are
 * upper bounds where the real count depends on the data (solver iterations, non-zeros).
 * Pure: no I/O, no errors thrown.
 * @module
 */
import { NEWTON_MAX_FEATURES } from "./probe/logistic.ts";

/** Budgets one request is held to (api.md "Limits"); each has an environment variable. */
export interface Limits {
  /** Work units of one live request: encode, decode, steer, feature and vision routes, aligned. */
  readonly maxWork: number;
  /** Work units of one `POST /v1/probes/train` (and /predict). */
  readonly maxProbeWork: number;
  /** Work units of one `POST /v1/circuits/discover`. */
  readonly maxCircuitWork: number;
  /** Pixels of an uploaded image (read from its header) and of a rendered heatmap. */
  readonly maxImagePixels: number;
  /** Estimated bytes of one answer. */
  readonly maxAnswerBytes: number;
}

/** The environment variable that sets each limit. */
export const LIMIT_ENV: Readonly<Record<keyof Limits, string>> = {
  maxWork: "SAESERVE_MAX_WORK",
  maxProbeWork: "SAESERVE_MAX_PROBE_WORK",
  maxCircuitWork: "SAESERVE_MAX_CIRCUIT_WORK",
  maxImagePixels: "SAESERVE_MAX_IMAGE_PIXELS",
  maxAnswerBytes: "SAESERVE_MAX_ANSWER_MB",
};

/**
 * Defaults, sized on the 2-core machine of the README's figures: `maxWork` about 2.5 s of
 * kernel time (2650 rows of a 2304 x 16384 dictionary), `maxProbeWork` about 5-10 s of probe
 * fitting (1500 rows x 64 with the default methods; 2000 rows are refused),
 * `maxCircuitWork` about 25 s (the paper's defaults on GPT-2-small head outputs), 4096 x 4096
 * pixels, 128 MiB answers.
 */
export const DEFAULT_LIMITS: Limits = {
  maxWork: 1e11,
  maxProbeWork: 1.5e11,
  maxCircuitWork: 1.2e12,
  maxImagePixels: 4096 * 4096,
  maxAnswerBytes: 128 * 2 ** 20,
};

/** Work units of one step of a plain TypeScript loop (a kernel multiply-add is 1). */
export const SCRIPT_OP = 40;

/** Bytes of one float in a JSON answer (f32 values print as ~18 digits). */
export const JSON_FLOAT_BYTES = 20;
/** Bytes of one integer (a latent index) in a JSON answer. */
export const JSON_INT_BYTES = 6;

/** The sizes of a dictionary that costs depend on. */
export interface DictionaryDims {
  readonly dIn: number;
  readonly dSae: number;
  /** k of TopK-like dictionaries: at most this many non-zero codes per row. */
  readonly k?: number;
}

/** Most non-zero codes a row can have (k, else d_sae), capped by `top` when given. */
export function codesPerRow(dims: DictionaryDims, options?: { top?: number }): number {
  return Math.min(dims.dSae, dims.k ?? dims.dSae, options?.top ?? Infinity);
}

/**
 * Encoding `rows`: the encoder GEMM, top-k selection, and with `decode` (reconstruction,
 * error, metrics) the sparse decode of the codes.
 */
export function encodeWork(
  rows: number,
  dims: DictionaryDims,
  options?: { decode?: boolean },
): number {
  const gemm = rows * dims.dIn * dims.dSae;
  const select = rows * dims.dSae;
  const decode = options?.decode ? rows * codesPerRow(dims) * dims.dIn + rows * dims.dIn : 0;
  return gemm + select + decode;
}

/** Decoding `rows` of dense codes, or of `nonZeros` sparse codes in all. */
export function decodeWork(
  rows: number,
  dims: DictionaryDims,
  options?: { nonZeros?: number },
): number {
  const products = options?.nonZeros ?? rows * dims.dSae;
  return products * dims.dIn + rows * dims.dIn;
}

/** The shape of a steering request, after its positions are deduplicated. */
export interface SteerShape {
  /** Number of interventions. */
  readonly interventions: number;
  /** Listed positions summed over interventions (an intervention without positions lists none). */
  readonly positions: number;
  /** Interventions along a unit direction (orthogonal, cap) or in "norm" units. */
  readonly geometric: number;
  /** Whether the rows are encoded first (clamp, scale, ablate, relative, conditional edits). */
  readonly needsCodes: boolean;
  /** Whether some edit has a condition (`when`), which searches the row's codes. */
  readonly conditional: boolean;
}

/**
 * Steering `rows` (domain/steer.ts): the optional encode; per row, every intervention and a
 * scan of its positions; the decode of the edited codes; projections along unit directions.
 */
export function steerWork(rows: number, dims: DictionaryDims, shape: SteerShape): number {
  const encode = shape.needsCodes ? encodeWork(rows, dims) : 0;
  const conditions = shape.conditional ? shape.interventions * codesPerRow(dims) : 0;
  const edits = rows * (shape.interventions + shape.positions + conditions) * SCRIPT_OP;
  const decode = rows * Math.min(shape.interventions, dims.dSae) * dims.dIn + rows * dims.dIn;
  const directions = shape.geometric * dims.dIn * (1 + rows * SCRIPT_OP);
  return encode + edits + decode + directions;
}

/** Work units of one (image, feature) map object: built, sent from its worker, written (~6 us). */
const MAP_OBJECT = 2e5;

/**
 * Per-image feature maps of `images` images of `patches` patches each (domain/vision.ts): per
 * feature and patch a search of the row's codes, choosing each image's top features, and the
 * cost of each (image, feature) map as an object of the answer.
 */
export function featureMapsWork(
  images: number,
  dims: DictionaryDims,
  options: { patches: number; features: number },
): number {
  const perRow = codesPerRow(dims);
  const choose = options.patches * perRow * 4 * SCRIPT_OP;
  const maps = options.features * (options.patches * perRow * SCRIPT_OP + MAP_OBJECT);
  return images * (maps + choose);
}

/** Numbers in an answer holding per-image feature maps. */
export function featureMapsNumbers(
  images: number,
  options: { patches: number; features: number },
): number {
  return images * options.features * (options.patches + 3);
}

/**
 * Logit lens of `features` decoder directions through a model head: the decoder rows, the
 * final norm, the unembedding GEMM, a softmax and top-`top` selection per feature.
 */
export function lensWork(
  features: number,
  head: { dModel: number; vocab: number },
  options?: { top?: number },
): number {
  const gemm = features * head.dModel * head.vocab;
  const softmax = features * head.vocab * (4 + Math.log2((options?.top ?? 1) + 1)) * SCRIPT_OP;
  return features * head.dModel * (1 + SCRIPT_OP) + gemm + softmax;
}

/**
 * Output scores of `features` steered next-token distributions (domain/feature_scores.ts):
 * per feature a softmax over the vocabulary and, per logit-lens token, a rank scan of it.
 */
export function outputScoreWork(
  features: number,
  head: { vocab: number },
  options: { top: number },
): number {
  return features * head.vocab * (4 + options.top) * SCRIPT_OP;
}

/**
 * Scoring `features` over encoded rows (input score, statistics): a search of each row's
 * codes per feature, plus one pass over every code.
 */
export function scanWork(
  rows: number,
  dims: DictionaryDims,
  options: { features: number },
): number {
  const perRow = codesPerRow(dims);
  return rows * perRow * (options.features + 4) * SCRIPT_OP;
}

/** An aligned (SPARC) dictionary's sizes. */
export interface AlignedDims {
  readonly latents: number;
  readonly k: number;
}

/**
 * Encoding rows of aligned streams (domain/aligned.ts, plain TypeScript): per stream the
 * pre-activations, top-k per row, and with `decodeTo` a decode into a stream of that width;
 * with `classes`, concept alignment's per-latent label profiles.
 */
export function alignedWork(
  rows: number,
  dims: AlignedDims,
  options: { streamWidths: readonly number[]; decodeTo?: number; classes?: number },
): number {
  const streams = options.streamWidths.length;
  const pre = options.streamWidths.reduce((s, d) => s + d, 0) * dims.latents;
  const select = streams * dims.latents * (2 + Math.log2(dims.k + 1));
  const decode = (options.decodeTo ?? 0) * dims.k;
  const concept = options.classes === undefined
    ? 0
    : streams * dims.k * options.classes + dims.latents * streams * streams * options.classes;
  return (rows * (pre + select + decode + (options.classes ? streams * dims.k : 0)) + concept) *
    SCRIPT_OP;
}

// ---------------------------------------------------------------------------------------------
// Probes (domain/probe/)

/** The probe methods the estimate knows. */
export type ProbeMethodName = "sae" | "logistic" | "pca" | "knn";

/** Size of the C grid every logistic fit is tuned over (probes.ts C_GRID). */
const C_VALUES = 10;

/** Validation folds of the paper's scheme (probe/validation.ts): count and held-out rows. */
function validationShape(
  rows: number,
  positives: number,
): { folds: number; heldOut: number } {
  const negatives = rows - positives;
  if (rows <= 12) return { folds: positives * negatives, heldOut: 2 * positives * negatives };
  if (rows < 128) return { folds: Math.max(1, Math.min(6, positives, negatives)), heldOut: rows };
  return { folds: 1, heldOut: Math.min(Math.round(0.2 * rows), 100) };
}

/**
 * One logistic-regression fit on `rows` x `cols` (probe/logistic.ts): Newton steps up to
 * {@link NEWTON_MAX_FEATURES} columns (a Hessian of rows x cols^2 / 2 per step, ~10-30 steps),
 * L-BFGS beyond (rows x cols per step, up to thousands of steps).
 */
export function logisticFitWork(rows: number, cols: number): number {
  const perCell = cols <= NEWTON_MAX_FEATURES ? 4 * (cols + 256) : 32_000;
  return rows * cols * perCell * SCRIPT_OP;
}

/** One PCA fit (probe/pca.ts): covariance or Gram matrix and Jacobi sweeps, else subspace iteration. */
function pcaFitWork(rows: number, cols: number, components: number): number {
  const m = Math.min(rows, cols);
  const ops = m <= 128 ? (rows * cols * m) / 2 + 60 * m ** 3 : 62 * rows * cols * (components + 10);
  return ops * SCRIPT_OP;
}

/** The component counts PCA tries, and the neighbour counts KNN tries (probes.ts grids). */
function probeGrids(rows: number, cols: number): { components: number[]; neighbours: number } {
  const components: number[] = [];
  for (let c = 1; c <= Math.min(rows - 1, cols, 100); c *= 2) components.push(c);
  let neighbours = 0;
  for (let k = 1; k <= Math.min(rows - 1, 100); k = k < 5 ? k + 2 : k * 2) neighbours++;
  return { components, neighbours };
}

/** The shape of a probe-training request. */
export interface ProbeShape {
  readonly rows: number;
  readonly cols: number;
  /** Rows labelled 1. */
  readonly positives: number;
  readonly testRows?: number;
}

/**
 * Fitting every requested method (probe/probes.ts trainProbes): each logistic fit tuned over
 * the C grid on every validation fold and refitted on all rows; PCA over its component grid;
 * KNN over its neighbour grid; the SAE probe once per k on k latent columns. Encoding the rows
 * with the dictionary is kernel work and not counted here (see {@link encodeWork}).
 */
export function probeTrainWork(
  shape: ProbeShape,
  options: { methods: readonly ProbeMethodName[]; ks?: readonly number[]; dSae?: number },
): number {
  const { rows, cols } = shape;
  const { folds, heldOut } = validationShape(rows, shape.positives);
  const fits = folds + 1;
  const grids = probeGrids(rows, cols);
  const testRows = shape.testRows ?? 0;
  let work = 0;
  for (const method of options.methods) {
    if (method === "logistic") {
      work += C_VALUES * fits * logisticFitWork(rows, cols) + testRows * cols * SCRIPT_OP;
    } else if (method === "pca") {
      for (const c of grids.components) {
        work += fits * (pcaFitWork(rows, cols, c) + logisticFitWork(rows, c)) +
          (rows + testRows) * cols * c * 2 * SCRIPT_OP;
      }
    } else if (method === "knn") {
      const distance = cols + 32 * Math.log2(rows + 1);
      work += grids.neighbours * (heldOut + testRows) * rows * distance * SCRIPT_OP;
    } else {
      const ranking = rows * Math.min(options.dSae ?? cols, 4096) * SCRIPT_OP;
      work += ranking;
      for (const k of options.ks ?? [1, 2, 4, 8, 16]) {
        const width = Math.min(k, options.dSae ?? k);
        work += C_VALUES * fits * logisticFitWork(rows, width) + testRows * width * SCRIPT_OP;
      }
    }
  }
  return work;
}

/** Applying a probe document to `rows` rows of `cols` columns (probe/probes.ts predictProbe). */
export function probePredictWork(
  rows: number,
  cols: number,
  probe: { components?: number; neighbours?: number },
): number {
  const pca = (probe.components ?? 0) * cols;
  const knn = probe.neighbours
    ? probe.neighbours * (cols + 32 * Math.log2(probe.neighbours + 1))
    : 0;
  return rows * (cols + pca + knn) * SCRIPT_OP;
}

/** Numbers in a probe-training answer: the best probe (KNN keeps every row) and the method list. */
export function probeAnswerNumbers(shape: ProbeShape, options: { methods: number }): number {
  return shape.rows * (shape.cols + 1) + 100 * shape.cols + 1000 * options.methods;
}

// ---------------------------------------------------------------------------------------------
// Circuits (domain/circuits.ts, domain/train/)

/** Work units of one training step per element of the [rows + d_model, latents] tensors. */
const CIRCUIT_ELEMENT = 2500;
/** Work units of one training step's fixed cost (kernel calls, Adam bookkeeping). */
const CIRCUIT_STEP = 2.5e7;
/** Work units of one (head pair, example) of edge scoring (a string key in two sets). */
const CIRCUIT_PAIR = 20_000;

/** The shape of a circuit-discovery request. */
export interface CircuitShape {
  readonly examples: number;
  readonly heads: number;
  readonly dModel: number;
}

/**
 * Circuit discovery: `epochs` full-batch steps of a ReLU SAE over the training examples' head
 * vectors (four GEMMs of rows x d_model x latents, element-wise work over the activations and
 * weights, a fixed cost per step), coding every (example, head), and edge scoring over every
 * pair of heads.
 */
export function circuitWork(
  shape: CircuitShape,
  options: { epochs: number; latents: number; trainExamples: number },
): number {
  const { examples, heads, dModel } = shape;
  const trainRows = Math.min(options.trainExamples, examples) * heads;
  const step = 4 * trainRows * dModel * options.latents +
    CIRCUIT_ELEMENT * (trainRows + dModel) * options.latents + CIRCUIT_STEP;
  const encode = examples * heads * options.latents * (dModel + SCRIPT_OP);
  const pairs = (heads * (heads - 1)) / 2;
  return options.epochs * step + encode + pairs * (examples + 2) * CIRCUIT_PAIR;
}

/** Numbers in a circuit answer: per head four, and the top half of the head pairs (three each). */
export function circuitAnswerNumbers(shape: CircuitShape): number {
  return 4 * shape.heads + (3 * shape.heads * (shape.heads - 1)) / 4;
}

// ---------------------------------------------------------------------------------------------
// Answers

/** Estimated bytes of an answer of `floats` floats and `ints` integers, as JSON or binary. */
export function answerBytes(
  floats: number,
  options?: { ints?: number; binary?: boolean },
): number {
  const ints = options?.ints ?? 0;
  return options?.binary ? 4 * (floats + ints) : JSON_FLOAT_BYTES * floats + JSON_INT_BYTES * ints;
}
