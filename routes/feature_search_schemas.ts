/**
 * The zod schemas of feature search, contrast and the feature card: request bodies (validated)
 * and answers (for the OpenAPI document).
 * @module
 */

import { z } from "zod";
import { MatrixSchema } from "./schemas.ts";

/** Most features one search or contrast answers. */
export const MAX_TOP = 1000;

const Top = z.number().int().min(1).max(MAX_TOP).default(20).describe("features to return");

/** POST /v1/features/search. */
export const FeatureSearchRequestSchema = z.object({
  q: z.string().min(1).max(1000).describe("words to look for in the explanations"),
  dictionaries: z.array(z.string()).min(1).max(100).optional().describe(
    "dictionary ids to search (default: every dictionary loaded now)",
  ),
  top: Top,
}).strict();

/** POST /v1/dictionaries/{id}/features/contrast. */
export const ContrastRequestSchema = z.object({
  positive: MatrixSchema.describe("activation rows [n, d_in] showing the behaviour"),
  negative: MatrixSchema.describe("activation rows [m, d_in] without it"),
  top: Top,
  both: z.boolean().default(false).describe(
    "also rank the features more active in `negative`",
  ),
}).strict();

/** One explanation as answered. */
export const ExplanationSchema = z.object({
  text: z.string(),
  metadata: z.record(z.string(), z.unknown()).optional().describe(
    "the entry's other fields (Neuronpedia: modelId, layer, explanationModelName, typeName)",
  ),
});

const Explained = {
  explanations: z.array(ExplanationSchema),
  link: z.string().optional().describe("the feature's Neuronpedia page (cfg.json neuronpedia_id)"),
};

/** One search hit. */
const HitSchema = z.object({ feature: z.number().int(), score: z.number(), ...Explained });

/** GET /v1/dictionaries/{id}/features/search. */
export const FeatureSearchResponseSchema = z.object({
  dictionary: z.string(),
  query: z.string(),
  explained_features: z.number().int().describe("features that have explanations"),
  warnings: z.array(z.string()).describe("entries of the explanations file that were skipped"),
  features: z.array(HitSchema),
});

/** POST /v1/features/search. */
export const FeatureSearchAllResponseSchema = z.object({
  query: z.string(),
  features: z.array(HitSchema.extend({ dictionary: z.string() })).describe(
    "hits of every dictionary searched, best first (scores are per dictionary)",
  ),
  errors: z.array(z.object({ dictionary: z.string(), detail: z.string() })).optional(),
});

const ContrastHitSchema = z.object({
  feature: z.number().int(),
  positive_mean: z.number(),
  negative_mean: z.number(),
  difference: z.number().describe("positive_mean - negative_mean"),
  ...Explained,
});

/** POST /v1/dictionaries/{id}/features/contrast. */
export const ContrastResponseSchema = z.object({
  positive: z.array(ContrastHitSchema).describe("features more active in `positive`"),
  negative: z.array(ContrastHitSchema).describe("with `both`: more active in `negative`"),
});

const LensSchema = z.array(
  z.object({ id: z.number().int(), token: z.string(), logit: z.number() }),
);

/** GET /v1/dictionaries/{id}/features/{feature}. */
export const FeatureCardSchema = z.object({
  dictionary: z.string(),
  feature: z.number().int(),
  ...Explained,
  decoder_norm: z.number(),
  logit_lens: z.object({ top: LensSchema, bottom: LensSchema }).optional().describe(
    "tokens the decoder row promotes and suppresses most, when the dictionary names a head",
  ),
  statistics: z.record(z.string(), z.number()).optional().describe(
    "stored density and activation statistics, when the explanations carry them; log10_density " +
      "and density from SAELens' sparsity.safetensors when the folder has one",
  ),
  nearest: z.array(z.object({ feature: z.number().int(), cosine: z.number(), ...Explained }))
    .describe("the 10 features with the most similar decoder rows (cosine)"),
});
