/**
 * The zod schemas of the HTTP API's requests (responses: response_schemas.ts, problem+json:
 * ProblemSchema here). Runtime validation and the OpenAPI document both come from these. The large numeric matrices are declared here
 * for the document but checked by the fast dedicated parsers in `body.ts`.
 * @module
 */

import { z } from "zod";
import { STEER_MODES } from "../domain/sae/steer.ts";
import { SaeError } from "../domain/errors.ts";

/**
 * Bounds on array-valued options (api.md "Limits"). Lists of indices are also deduplicated and
 * checked against the dictionary or the rows by the routes; the cost of what remains is
 * checked against the budgets of `domain/cost.ts`.
 */
export const LIST_LIMITS = {
  /** Steering edits per request. */
  interventions: 4096,
  /** Entries of one index list (positions, patches, map_features, ground_truth, head_names). */
  indices: 65_536,
  /** Feature ids of the feature routes. */
  features: 4096,
  /** k values of one probe-training request. */
  ks: 32,
  /** Cells of a boolean patch mask (1024 x 1024). */
  mask: 1 << 20,
  /** Side of a patch grid. */
  gridSide: 1024,
  /** Heads of one circuit-discovery request (edge scoring compares every pair). */
  heads: 512,
} as const;

/**
 * Rows of numbers: [rows, cols]. Validation only checks the rows are arrays: zod walking every
 * number of a large body took 45-80 ms per 100k numbers on the request thread, so the numbers
 * are checked by `jsonMatrix` / `jsonSparse` (type, finiteness, shape) where they are read.
 */
export const MatrixSchema = z.array(z.custom<number[]>((row) => Array.isArray(row)))
  .meta({ items: { type: "array", items: { type: "number" } } })
  .describe("rows x columns of numbers");

/** One steering edit. */
export const InterventionSchema = z.object({
  feature: z.number().int().describe("latent index in [0, d_sae)"),
  mode: z.enum(STEER_MODES).describe(
    "add: f += value; clamp: f = value; scale: f *= value; ablate: f = 0; " +
      "orthogonal: x - (x.u)u + value u; cap: x - max(0, x.u - value) u (u: unit decoder direction)",
  ),
  value: z.number().optional().describe("required by every mode but ablate"),
  positions: z.array(z.number().int()).max(LIST_LIMITS.indices).optional().describe(
    "rows to steer (default all); duplicates count once",
  ),
  unit: z.enum(["activation", "norm"]).optional().describe(
    "activation (default): value per unit of latent activation; norm: along the unit-norm direction",
  ),
  relative: z.boolean().optional().describe("scale value by the row's largest latent activation"),
  patches: z.union([
    z.array(z.number().int()).max(LIST_LIMITS.indices),
    z.array(z.boolean()).max(LIST_LIMITS.mask),
    z.array(z.array(z.boolean()).max(LIST_LIMITS.gridSide)).max(LIST_LIMITS.gridSide),
  ])
    .optional()
    .describe("vision: patch indices or a boolean mask over the grid (instead of positions)"),
  when: z.object({
    feature: z.number().int(),
    op: z.enum([">", "<"]),
    value: z.number(),
  }).strict().optional().describe(
    "steer only rows where this latent's activation satisfies op value",
  ),
}).strict();

/** A vision patch grid [h, w]. */
const GridSchema = z.array(z.number().int().min(1).max(LIST_LIMITS.gridSide)).length(2);

/** Values `include` may list. */
export const IncludeSchema = z.enum(["reconstruction", "error", "metrics"]);

/** Options of POST /encode (JSON body fields, or query parameters with an .npy body). */
export const EncodeOptionsSchema = z.object({
  top: z.number().int().min(1).optional().describe(
    "return at most this many largest latents per row (at most d_sae)",
  ),
  include: z.array(IncludeSchema).max(3).optional().describe("extra outputs"),
  grid: GridSchema.optional().describe(
    "vision: [h, w] patch grid; rows are images x (skip_tokens + h*w) tokens; adds per-image feature maps",
  ),
  skip_tokens: z.number().int().min(0).default(0).describe(
    "vision: leading CLS/register tokens per image",
  ),
  map_features: z.array(z.number().int().min(0)).max(LIST_LIMITS.indices).optional().describe(
    "vision: features to map, each < d_sae, duplicates count once (default: each image's top maps_top)",
  ),
  maps_top: z.number().int().min(1).max(256).default(8),
}).strict();

/** POST /encode JSON body. */
export const EncodeRequestSchema = EncodeOptionsSchema.extend({ activations: MatrixSchema })
  .strict();

/** POST /decode JSON body, sparse form. */
export const DecodeSparseSchema = z.object({
  indices: z.array(z.array(z.number().int())).describe(
    "latent indices per row; -1 with value 0 is padding (as .npz answers of encode hold) and skipped",
  ),
  values: MatrixSchema,
}).strict();

/** POST /decode JSON body, dense form. */
export const DecodeDenseSchema = z.object({ codes: MatrixSchema }).strict();

/** POST /decode JSON body: sparse or dense codes. */
export const DecodeRequestSchema = z.union([DecodeSparseSchema, DecodeDenseSchema]);

/** Options of POST /steer. */
export const SteerOptionsSchema = z.object({
  interventions: z.array(InterventionSchema).min(1).max(LIST_LIMITS.interventions),
  grid: GridSchema.optional().describe(
    "vision: [h, w] patch grid for `patches`",
  ),
  skip_tokens: z.number().int().min(0).default(0),
}).strict();

/** POST /steer JSON body. */
export const SteerRequestSchema = SteerOptionsSchema.extend({ activations: MatrixSchema }).strict();

/** Feature ids of one dictionary. */
const FeaturesSchema = z.array(z.number().int().min(0)).min(1).max(LIST_LIMITS.features).describe(
  "latent indices",
);

/** POST /features/logit-lens. */
export const LogitLensRequestSchema = z.object({
  features: FeaturesSchema,
  top: z.number().int().min(1).max(1000).default(20).describe("tokens per feature"),
}).strict();

/** POST /features/input-score. */
export const InputScoreRequestSchema = z.object({
  features: FeaturesSchema,
  activations: MatrixSchema,
  token_ids: z.array(z.number().int().min(0)).describe("token id of each activation row"),
  example_ids: z.array(z.number().int()).describe("example (document) id of each activation row"),
  top: z.number().int().min(1).max(1000).default(20).describe(
    "logit-lens tokens that count as a hit",
  ),
  max_examples: z.number().int().min(1).max(100_000).default(100),
}).strict();

/** POST /features/output-score/prepare. */
export const OutputScorePrepareSchema = z.object({
  features: FeaturesSchema,
  activations: z.union([z.array(z.number()), MatrixSchema]).describe(
    "the neutral prompt's activation at its last position: [d] or [[d]]",
  ),
  factor: z.number().default(10).describe("f_i += factor * max_j f_j"),
}).strict();

/** POST /features/output-score. */
export const OutputScoreRequestSchema = z.object({
  features: FeaturesSchema,
  logits: MatrixSchema.optional().describe(
    "next-token logits [n_features, vocab] from the caller's model",
  ),
  activations: z.union([z.array(z.number()), MatrixSchema]).optional().describe(
    "instead of logits, when the dictionary feeds the final norm: the prompt's last activation",
  ),
  factor: z.number().default(10),
  top: z.number().int().min(1).max(1000).default(20),
}).strict();

/** POST /features/stats. */
export const FeatureStatsRequestSchema = z.object({
  activations: MatrixSchema,
  token_ids: z.array(z.number().int().min(0)).optional(),
  features: z.array(z.number().int().min(0)).max(LIST_LIMITS.features).optional(),
  top_rows: z.number().int().min(1).max(1000).default(10),
}).strict();

/** POST /steering-vector. */
export const SteeringVectorRequestSchema = z.object({
  features: z.array(z.object({ feature: z.number().int().min(0), strength: z.number() }).strict())
    .min(1).max(LIST_LIMITS.features),
  unit: z.enum(["activation", "norm"]).default("activation"),
  normalize: z.boolean().default(false),
  format: z.enum(["json", "npy", "gguf"]).default("json"),
  layer: z.number().int().min(1).optional().describe(
    "llama.cpp layer for gguf (default from the hook: blocks.L.hook_resid_post -> L + 1)",
  ),
}).strict();

/**
 * 0/1 labels as JSON numbers or booleans: numpy's int64, int32, uint8 and bool label arrays
 * as `tolist()` writes them.
 */
export const LabelsSchema = z.array(z.union([z.number(), z.boolean()]));

/** The labels as 0/1 numbers: SaeError "invalid" (422) unless each is 0, 1, false or true. */
export function binaryLabels(values: readonly (number | boolean)[], what: string): number[] {
  const y = values.map((v) => (v === true ? 1 : v === false ? 0 : v));
  if (!y.every((v) => v === 0 || v === 1)) {
    throw new SaeError("invalid", `${what} must be 0 or 1 (or false / true)`);
  }
  return y;
}

/** POST /v1/probes/train. */
export const ProbeTrainRequestSchema = z.object({
  activations: MatrixSchema,
  labels: LabelsSchema.describe("0/1 (or false/true) label per row"),
  test_activations: MatrixSchema.optional(),
  test_labels: LabelsSchema.optional(),
  dictionary: z.string().optional().describe("dictionary id for the sae method"),
  k: z.array(z.number().int().min(1)).min(1).max(LIST_LIMITS.ks).default([1, 2, 4, 8, 16])
    .describe("latents per SAE probe (each at most d_sae)"),
  methods: z.array(z.enum(["sae", "logistic", "pca", "knn"])).min(1).max(4).optional()
    .describe("default: all four with a dictionary, else logistic, pca and knn"),
  penalty: z.enum(["l1", "l2"]).default("l2").describe("SAE probe regularization"),
  normalized_selection: z.boolean().default(false),
  seed: z.number().int().default(0),
}).strict();

/** POST /v1/probes/predict. */
export const ProbePredictRequestSchema = z.object({
  probe: z.record(z.string(), z.unknown()).describe("a probe document from /v1/probes/train"),
  activations: MatrixSchema,
}).strict();

/** POST /heatmap. */
export const HeatmapRequestSchema = z.object({
  activations: MatrixSchema.describe("one image's tokens [skip_tokens + h*w, d_in]"),
  grid: GridSchema,
  skip_tokens: z.number().int().min(0).default(0),
  feature: z.number().int().min(0),
  image: z.string().optional().describe("PNG or JPEG, base64 (a data: URL works too)"),
  size: z.array(z.number().int().min(1).max(4096)).length(2).optional().describe(
    "[width, height] of the PNG (width x height at most SAESERVE_MAX_IMAGE_PIXELS)",
  ),
  max: z.number().positive().optional().describe(
    "activation shown at full brightness (default: the map's max)",
  ),
}).strict();

/** POST /features/semantic-probe. */
export const SemanticProbeRequestSchema = z.object({
  activations: MatrixSchema,
  grid: GridSchema,
  skip_tokens: z.number().int().min(0).default(0),
  labels: LabelsSchema.describe("0/1 (or false/true) per image"),
  top: z.number().int().min(1).max(10_000).optional().describe(
    "features listed (default 50; at most d_sae)",
  ),
}).strict();

/** Options of POST /v1/circuits/discover. */
export const CircuitOptionsSchema = z.object({
  latents: z.number().int().min(2).max(4096).default(200),
  l1: z.number().min(0).default(0.02),
  epochs: z.number().int().min(1).max(100_000).default(500),
  lr: z.number().positive().default(1e-3),
  train_examples: z.number().int().min(2).default(10),
  seed: z.number().int().default(0),
}).strict();

/** POST /v1/circuits/discover (JSON form). */
export const CircuitRequestSchema = z.object({
  head_outputs: z.array(z.array(z.array(z.number()))).describe("[examples, heads, d_model]"),
  labels: LabelsSchema.describe("1 (true) task, 0 (false) corrupted"),
  head_names: z.array(z.string().max(256)).max(LIST_LIMITS.indices).optional(),
  ground_truth: z.array(z.number().int().min(0)).max(LIST_LIMITS.indices).optional(),
  options: CircuitOptionsSchema.optional(),
}).strict();

/** POST /v1/aligned/{id}/encode. */
export const AlignedEncodeSchema = z.object({
  streams: z.record(z.string(), MatrixSchema).describe(
    "stream name -> activations [rows, d_stream]",
  ),
  topk: z.enum(["global", "local"]).default("global"),
}).strict();

/** POST /v1/aligned/{id}/translate. */
export const AlignedTranslateSchema = z.object({
  from: z.string(),
  to: z.string(),
  activations: MatrixSchema,
}).strict();

/** POST /v1/aligned/{id}/concept-alignment. */
export const ConceptAlignmentSchema = z.object({
  streams: z.record(z.string(), MatrixSchema),
  labels: z.array(z.array(z.number())).describe("[rows, classes] multi-hot"),
  topk: z.enum(["global", "local"]).default("global"),
}).strict();

/** problem+json body. */
export const ProblemSchema = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
}).describe("RFC 9457 problem details; 413s add limit, limit_value and estimate");
