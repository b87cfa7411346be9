/**
 * The zod schemas of the HTTP API's JSON answers, for the OpenAPI document (the handlers build
 * these shapes directly; nothing validates them at runtime).
 * @module
 */

import { z } from "zod";
import { MatrixSchema } from "./schemas.ts";

/** GET /healthz. */
export const HealthSchema = z.object({ status: z.literal("ok") });

/** GET /readyz. */
export const ReadySchema = z.object({
  status: z.literal("ready"),
  backend: z.string(),
  backends: z.record(
    z.string(),
    z.object({
      adapter: z.string().describe('e.g. "CPU (WASM SIMD, 2 threads)" or the WebGPU adapter'),
      software_adapter: z.boolean().describe("a software WebGPU adapter (llvmpipe): CPU speed"),
    }),
  ).describe("what each backend this service can use computes on (the default first)"),
  store: z.string().describe("the store's kind: file, s3, https, hf"),
  store_location: z.string().optional().describe("only for a caller holding a valid key"),
});

/** One dictionary as listed and described. */
export const DictionarySchema = z.object({
  id: z.string(),
  kind: z.literal("dictionary").describe(
    'what the folder holds: "dictionary" here, "aligned" for aligned dictionaries',
  ),
  format: z.string(),
  architecture: z.string().optional(),
  d_in: z.number().int().optional(),
  d_sae: z.number().int().optional(),
  loaded: z.boolean(),
  dtype: z.string().optional(),
  k: z.number().int().optional(),
  normalize_activations: z.string().optional(),
  apply_b_dec_to_input: z.boolean().optional(),
  rescale_acts_by_decoder_norm: z.boolean().optional(),
  skip_connection: z.boolean().optional(),
  transcoder: z.boolean().optional(),
  hook_name: z.string().optional(),
  model_name: z.string().optional(),
  weight_bytes: z.number().int().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  explanations: z.object({
    file: z.string(),
    count: z.number().int().describe("explanations read"),
    features: z.number().int().describe("features with at least one explanation"),
    warnings: z.array(z.string()).describe("entries skipped: malformed, out of range, ..."),
  }).optional().describe("the dictionary's explanations file, when it has one"),
  error: z.string().optional(),
});

/** GET /v1/aligned/{id}: an aligned (multi-stream) dictionary. */
export const AlignedSchema = z.object({
  id: z.string(),
  kind: z.literal("aligned"),
  format: z.literal("aligned").describe('saeserve.json of kind "aligned" + aligned.safetensors'),
  architecture: z.literal("topk").optional(),
  d_sae: z.number().int().optional().describe("the shared latents"),
  latents: z.number().int().optional(),
  k: z.number().int().optional(),
  streams: z.array(z.object({ name: z.string(), d: z.number().int() })).optional(),
  loaded: z.boolean(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  error: z.string().optional(),
});

/** GET /v1/aligned. */
export const AlignedListSchema = z.object({ aligned: z.array(AlignedSchema) });

/** GET /v1/dictionaries: dictionaries, then aligned dictionaries (told apart by `kind`). */
export const DictionaryListSchema = z.object({
  dictionaries: z.array(z.union([DictionarySchema, AlignedSchema])),
});

/** One image's feature maps (encode with `grid`). */
export const ImageMapsSchema = z.object({
  image: z.number().int(),
  features: z.array(z.object({
    feature: z.number().int(),
    max: z.number(),
    values: z.array(z.number()).describe("h x w activations, row-major"),
  })),
});

/** POST /encode. */
export const EncodeResponseSchema = z.object({
  indices: z.array(z.array(z.number().int())).describe("per row, sorted by value, descending"),
  values: z.array(z.array(z.number())),
  reconstruction: MatrixSchema.optional(),
  error: MatrixSchema.optional(),
  metrics: z.object({
    l0: z.number(),
    mse: z.number(),
    fvu: z.number().nullable().describe(
      "fraction of variance unexplained over the batch's rows; null when they have no variance " +
        "(one row, or identical rows)",
    ),
    cosine: z.number(),
    per_row: z.object({
      l0: z.array(z.number()),
      mse: z.array(z.number()),
      cosine: z.array(z.number()),
    }),
  }).optional(),
  maps: z.array(ImageMapsSchema).optional().describe("vision (with grid): per-image feature maps"),
});

/** Activations answered by decode, steer, output-score/prepare and aligned translate. */
export const ActivationsResponseSchema = z.object({ activations: MatrixSchema });

/** POST /features/logit-lens. */
export const LogitLensResponseSchema = z.object({
  features: z.array(z.object({
    feature: z.number().int(),
    tokens: z.array(z.object({ id: z.number().int(), token: z.string(), prob: z.number() })),
  })),
});

/** POST /features/input-score. */
export const InputScoreResponseSchema = z.object({
  features: z.array(z.object({
    feature: z.number().int(),
    score: z.number(),
    examples: z.array(z.object({
      example_id: z.number().int(),
      token_id: z.number().int(),
      activation: z.number(),
    })),
  })),
});

/** POST /features/output-score. */
export const OutputScoreResponseSchema = z.object({
  scores: z.array(z.object({
    feature: z.number().int(),
    score: z.number(),
    min_rank: z.number().int(),
    max_prob: z.number(),
  })),
});

/** POST /features/stats. */
export const FeatureStatsResponseSchema = z.object({
  rows: z.number().int(),
  features: z.array(z.object({
    feature: z.number().int(),
    density: z.number(),
    mean: z.number(),
    max: z.number(),
    top_rows: z.array(z.object({
      row: z.number().int(),
      activation: z.number(),
      token_id: z.number().int().optional(),
    })),
  })),
});

/** POST /steering-vector with format json. */
export const SteeringVectorResponseSchema = z.object({
  d: z.number().int(),
  unit: z.enum(["activation", "norm"]),
  normalized: z.boolean(),
  vector: z.array(z.number()),
});

/** POST /features/semantic-probe. */
export const SemanticProbeResponseSchema = z.object({
  images: z.number().int(),
  features: z.array(z.object({
    feature: z.number().int(),
    f1: z.number(),
    precision: z.number(),
    recall: z.number(),
  })),
});

/** POST /v1/probes/train. */
export const ProbeTrainResponseSchema = z.object({
  methods: z.array(z.object({
    method: z.string(),
    name: z.string(),
    k: z.number().int().optional(),
    val_auc: z.number(),
    test_auc: z.number().optional(),
    params: z.record(z.string(), z.union([z.number(), z.string()])),
    latents: z.array(z.number().int()).optional(),
  })),
  best: z.string(),
  probe: z.record(z.string(), z.unknown()).describe("the best probe's document"),
});

/** POST /v1/probes/predict. */
export const ProbePredictResponseSchema = z.object({ probabilities: z.array(z.number()) });

/** POST /v1/circuits/discover. */
export const CircuitResponseSchema = z.object({
  heads: z.array(z.object({
    head: z.number().int(),
    name: z.string(),
    node_score: z.number(),
    edge_score: z.number(),
    positive_only_codes: z.number().int(),
  })),
  edges: z.array(z.object({ heads: z.array(z.number().int()), score: z.number() })),
  roc_auc: z.object({ node: z.number(), edge: z.number() }).optional(),
  timings_ms: z.record(z.string(), z.number()),
  warnings: z.array(z.string()).describe(
    "data that looks unpaired, a missing class, or no separating head (empty when none)",
  ),
});

/** POST /v1/aligned/{id}/encode. */
export const AlignedEncodeResponseSchema = z.object({
  indices: z.record(z.string(), z.array(z.array(z.number().int()))),
  values: z.record(z.string(), z.array(z.array(z.number()))),
  jaccard: z.array(z.number()).describe("per row: Jaccard of the streams' active sets"),
});

/** POST /v1/aligned/{id}/concept-alignment. */
export const ConceptAlignmentResponseSchema = z.object({
  mean_jaccard: z.number(),
  per_latent: z.array(z.number()),
  dead: z.array(z.number().int()),
  mixed: z.array(z.number().int()),
});

/** GET /ui/vision/example.json. */
export const VisionExampleSchema = z.object({
  dictionary: z.string(),
  grid: z.array(z.number().int()),
  skip_tokens: z.number().int(),
  image: z.string().describe("data: URL of a PNG"),
  activations: MatrixSchema,
});
