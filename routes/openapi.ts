/**
 * GET /openapi.json: the OpenAPI 3.1 document, generated from the zod schemas in schemas.ts.
 * @module
 */

import { z } from "zod";
import {
  ActivationsResponseSchema,
  DecodeRequestSchema,
  DictionaryListSchema,
  DictionarySchema,
  EncodeRequestSchema,
  EncodeResponseSchema,
  FeatureStatsRequestSchema,
  InputScoreRequestSchema,
  LogitLensRequestSchema,
  OutputScorePrepareSchema,
  OutputScoreRequestSchema,
  ProbePredictRequestSchema,
  ProbeTrainRequestSchema,
  ProblemSchema,
  SteeringVectorRequestSchema,
  SteerRequestSchema,
} from "./schemas.ts";

function schema(s: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  delete json.$schema;
  return json;
}

const npyBody = {
  "application/x-npy": {
    schema: {
      type: "string",
      format: "binary",
      description: ".npy array [rows, d_in] (f32, f16 or f64)",
    },
  },
};

const problems = Object.fromEntries(
  [400, 404, 413, 415, 422, 429, 503].map((status) => [status, {
    description: "problem+json",
    content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
  }]),
);

const idParam = {
  name: "id",
  in: "path",
  required: true,
  description: "Dictionary id: its folder path in the store, URL-encoded (`/` -> `%2F`).",
  schema: { type: "string" },
};

function compute(
  summary: string,
  request: z.ZodType,
  response: z.ZodType,
  query: Record<string, unknown>[],
) {
  return {
    post: {
      summary,
      parameters: [idParam, ...query],
      requestBody: {
        required: true,
        content: { "application/json": { schema: schema(request) }, ...npyBody },
      },
      responses: {
        200: {
          description: "Result; answered as .npy when the request was .npy or Accept asks for it.",
          headers: {
            "X-Saeserve-Backend": {
              schema: { type: "string" },
              description: "backend that computed it",
            },
          },
          content: { "application/json": { schema: schema(response) }, ...npyBody },
        },
        ...problems,
      },
    },
  };
}

/** A JSON-in, JSON-out feature route (responses described in prose). */
function featurePost(summary: string, request: z.ZodType, answers: string) {
  return {
    post: {
      summary,
      parameters: [idParam],
      requestBody: { required: true, content: { "application/json": { schema: schema(request) } } },
      responses: {
        200: {
          description: answers,
          content: { "application/json": { schema: { type: "object" } } },
        },
        ...problems,
      },
    },
  };
}

/** Build the OpenAPI document. */
export function openApiDocument(options: { version: string }): Record<string, unknown> {
  const q = (name: string, description: string, type = "string") => ({
    name,
    in: "query",
    required: false,
    description,
    schema: { type },
  });
  return {
    openapi: "3.1.0",
    info: {
      title: "saeserve",
      version: options.version,
      description:
        "Serve sparse autoencoder dictionaries: encode, decode and steer model activations.",
    },
    paths: {
      "/healthz": { get: { summary: "Process is up", responses: { 200: { description: "ok" } } } },
      "/readyz": {
        get: {
          summary: "Store reachable and backend ready",
          responses: { 200: { description: "ready" }, ...problems },
        },
      },
      "/metrics": {
        get: { summary: "Prometheus metrics", responses: { 200: { description: "text/plain" } } },
      },
      "/v1/dictionaries": {
        get: {
          summary: "List dictionaries in the store",
          responses: {
            200: {
              description: "list",
              content: { "application/json": { schema: schema(DictionaryListSchema) } },
            },
          },
        },
      },
      "/v1/dictionaries/{id}": {
        get: {
          summary: "Describe one dictionary",
          parameters: [idParam],
          responses: {
            200: {
              description: "metadata",
              content: { "application/json": { schema: schema(DictionarySchema) } },
            },
            ...problems,
          },
        },
      },
      "/v1/dictionaries/{id}/encode": compute(
        "Encode activations into sparse latents",
        EncodeRequestSchema,
        EncodeResponseSchema,
        [
          q("top", "with an .npy body: at most this many latents per row", "integer"),
          q("include", "with an .npy body: comma list of reconstruction, error, metrics"),
        ],
      ),
      "/v1/dictionaries/{id}/decode": compute(
        "Decode latents into activations",
        DecodeRequestSchema,
        ActivationsResponseSchema,
        [],
      ),
      "/v1/dictionaries/{id}/steer": compute(
        "Steer activations (error-preserving)",
        SteerRequestSchema,
        ActivationsResponseSchema,
        [
          q("interventions", "with an .npy body: URL-encoded JSON list of interventions"),
        ],
      ),
      "/v1/dictionaries/{id}/features/logit-lens": featurePost(
        "Logit lens: decoder row -> final norm -> unembedding -> softmax (needs a model head)",
        LogitLensRequestSchema,
        '{"features": [{"feature", "tokens": [{"id", "token", "prob"}]}]}',
      ),
      "/v1/dictionaries/{id}/features/input-score": featurePost(
        "Input score: share of top-activating examples whose max token is in the logit lens",
        InputScoreRequestSchema,
        '{"features": [{"feature", "score", "examples": [{"example_id", "token_id", "activation"}]}]}',
      ),
      "/v1/dictionaries/{id}/features/output-score/prepare": featurePost(
        "Output score, step 1: steered activations (f_i += factor * max_j f_j, decode + error)",
        OutputScorePrepareSchema,
        '{"activations": [[...]]}: one steered row per feature; run your model on them',
      ),
      "/v1/dictionaries/{id}/features/output-score": featurePost(
        "Output score, step 2: score next-token logits (or activations, before the final norm)",
        OutputScoreRequestSchema,
        '{"scores": [{"feature", "score", "min_rank", "max_prob"}]}',
      ),
      "/v1/dictionaries/{id}/features/stats": featurePost(
        "Feature statistics: density, mean, max, top-activating rows",
        FeatureStatsRequestSchema,
        '{"rows", "features": [{"feature", "density", "mean", "max", "top_rows"}]}',
      ),
      "/v1/probes/train": {
        post: {
          summary:
            "Sparse SAE probes beside baselines (logistic, PCA, KNN), tuned by validation AUC",
          requestBody: {
            required: true,
            content: { "application/json": { schema: schema(ProbeTrainRequestSchema) } },
          },
          responses: {
            200: {
              description:
                '{"methods": [{"method", "name", "k"?, "val_auc", "test_auc"?, "params", "latents"?}], "best", "probe"}',
              content: { "application/json": { schema: { type: "object" } } },
            },
            ...problems,
          },
        },
      },
      "/v1/probes/predict": {
        post: {
          summary: "Apply a probe document to activations",
          requestBody: {
            required: true,
            content: { "application/json": { schema: schema(ProbePredictRequestSchema) } },
          },
          responses: {
            200: {
              description: '{"probabilities": [...]}',
              content: { "application/json": { schema: { type: "object" } } },
            },
            ...problems,
          },
        },
      },
      "/v1/dictionaries/{id}/steering-vector": featurePost(
        "Summed steering direction as JSON, .npy or a llama.cpp control-vector GGUF",
        SteeringVectorRequestSchema,
        '{"d", "unit", "normalized", "vector"} (json); application/x-npy; application/octet-stream (gguf)',
      ),
    },
    components: { schemas: { Problem: schema(ProblemSchema) } },
  };
}
