/**
 * Feature scoring under /v1/dictionaries/{id}/features/: logit lens, input score, the two-step
 * output score (prepare steered activations; score the caller's logits, or finish alone when
 * the dictionary feeds the model's final norm) and corpus statistics. Steering vectors:
 * steering_vector.ts.
 * @module
 */

import type { z } from "zod";
import {
  featureStats,
  headLogits,
  inputScore,
  outputScore,
} from "../domain/features/feature_scores.ts";
import { SaeError } from "../domain/errors.ts";
import type { Matrix } from "../domain/sae/matrix.ts";
import { encodeRows } from "../domain/sae/sae.ts";
import { checkSteerable } from "../domain/families/steerable.ts";
import { activationsBody, jsonBody } from "./body.ts";
import { jsonMatrix } from "./body_matrix.ts";
import type { AppDeps } from "./deps.ts";
import type { AppContext } from "./env.ts";
import { DEMO, demoRows } from "./examples.ts";
import { checkFeatures, lensIds, oneRow, prepareRows, withDictionary } from "./feature_lease.ts";
import { requestSignal } from "./request_signal.ts";
import { checkFeatureScores, checkFeatureStats } from "./feature_costs.ts";
import { limitsOf } from "./limits.ts";
import {
  DICTIONARY_POST_ERRORS,
  ID_PARAM,
  NPY_BODY,
  npyQuery,
  type Operation,
  pathParam,
} from "./operation.ts";
import { activationsResponse, BACKEND_HEADER, expectFiniteResult } from "./respond.ts";
import {
  ActivationsResponseSchema,
  FeatureStatsResponseSchema,
  InputScoreResponseSchema,
  LogitLensResponseSchema,
  OutputScoreResponseSchema,
} from "./response_schemas.ts";
import {
  FeatureStatsRequestSchema,
  InputScoreRequestSchema,
  LogitLensRequestSchema,
  OutputScorePrepareSchema,
  OutputScoreRequestSchema,
} from "./schemas.ts";

/** A JSON answer of a feature route. */
const answer = (description: string, schema: z.ZodType) => ({
  description,
  content: { "application/json": schema },
  headers: { "X-Saeserve-Backend": "the backend that computed it" },
});

/** The feature-scoring operations. */
export function featureOperations(deps: AppDeps): Operation[] {
  const limits = limitsOf(deps);
  const backendHeader = (c: AppContext) => c.header(BACKEND_HEADER, deps.backend.name);
  const headNote = " Needs a dictionary whose saeserve.json names a model head.";
  return [{
    method: "post",
    path: "/v1/dictionaries/:id/features/logit-lens",
    tag: "features",
    summary: "Logit lens: decoder row -> final norm -> unembedding -> softmax",
    description: "Each feature's most promoted tokens." + headNote,
    request: { params: ID_PARAM, json: LogitLensRequestSchema },
    responses: {
      200: answer("top tokens per feature", LogitLensResponseSchema),
      ...DICTIONARY_POST_ERRORS,
    },
    examples: [{
      name: "two features",
      params: { id: DEMO.topk },
      body: { features: [17, 80], top: 5 },
    }],
    handler: async (c) => {
      const req = await jsonBody(c, LogitLensRequestSchema, deps);
      const result = await withDictionary(deps, async (lease, head) => {
        checkFeatures(req.features, lease.description.dSae);
        const n = req.features.length;
        checkFeatureScores(limits, { dims: lease.description, head: head! }, {
          features: n,
          top: req.top,
          answerNumbers: n * req.top * 3,
        });
        return await lensIds(deps.backend, lease, { ...req, head: head! });
      }, { id: pathParam(c, "id"), needHead: true });
      backendHeader(c);
      return c.json({
        features: req.features.map((feature, n) => ({ feature, tokens: result[n] })),
      });
    },
  }, {
    method: "post",
    path: "/v1/dictionaries/:id/features/input-score",
    tag: "features",
    summary: "Input score: share of top-activating examples whose max token is in the logit lens",
    description: "token_ids and example_ids give one entry per activation row." + headNote,
    request: {
      params: ID_PARAM,
      json: InputScoreRequestSchema,
      binary: NPY_BODY,
      query: [
        npyQuery("features", { description: "URL-encoded JSON list of features" }),
        npyQuery("token_ids", { description: "URL-encoded JSON list, one per row" }),
        npyQuery("example_ids", { description: "URL-encoded JSON list, one per row" }),
        npyQuery("top", { description: "top-activating tokens per feature", type: "integer" }),
        npyQuery("max_examples", { description: "examples per feature", type: "integer" }),
      ],
    },
    responses: {
      200: answer("score and top examples per feature", InputScoreResponseSchema),
      ...DICTIONARY_POST_ERRORS,
    },
    examples: [{
      name: "four rows",
      params: { id: DEMO.topk },
      body: {
        features: [17],
        activations: demoRows(4),
        token_ids: [5, 6, 7, 8],
        example_ids: [0, 0, 1, 1],
        top: 10,
      },
    }],
    handler: async (c) => {
      const { body: req, x } = await activationsBody(c, InputScoreRequestSchema, {
        maxBodyBytes: deps.maxBodyBytes,
        jsonKeys: ["features", "token_ids", "example_ids"],
      });
      if (req.token_ids.length !== x.rows || req.example_ids.length !== x.rows) {
        throw new SaeError(
          "invalid",
          `token_ids and example_ids need one entry per activation row (${x.rows})`,
        );
      }
      const scores = await withDictionary(deps, async (lease, head) => {
        checkFeatures(req.features, lease.description.dSae);
        const outside = req.token_ids.findIndex((t) => t >= head!.vocab);
        if (outside >= 0) {
          throw new SaeError(
            "invalid",
            `token_ids[${outside}] is ${req.token_ids[outside]}, outside the head's vocabulary ` +
              `of ${head!.vocab} tokens (ids 0 to ${head!.vocab - 1})`,
          );
        }
        const n = req.features.length;
        checkFeatureScores(limits, { dims: lease.description, head: head! }, {
          features: n,
          top: req.top,
          rows: x.rows,
          answerNumbers: n * (2 + 3 * Math.min(req.max_examples, x.rows)),
        });
        const lenses = await lensIds(deps.backend, lease, { ...req, head: head! });
        const { codes } = await encodeRows(
          { backend: deps.backend, prepared: lease.prepared },
          x,
          {},
        );
        return req.features.map((feature, n) => {
          const s = inputScore(codes, {
            feature,
            tokenIds: req.token_ids,
            exampleIds: req.example_ids,
            lensIds: lenses[n].map((t) => t.id),
            maxExamples: req.max_examples,
          });
          return {
            feature,
            score: s.score,
            examples: s.examples.map((e) => ({
              example_id: e.exampleId,
              token_id: e.tokenId,
              activation: e.activation,
            })),
          };
        });
      }, { id: pathParam(c, "id"), needHead: true });
      backendHeader(c);
      return c.json({ features: scores });
    },
  }, {
    method: "post",
    path: "/v1/dictionaries/:id/features/output-score/prepare",
    tag: "features",
    summary: "Output score, step 1: steered activations (f_i += factor * max_j f_j)",
    description: "One steered row per feature (decode plus the error); run your model on them " +
      "and send the next-token logits to /features/output-score.",
    request: {
      params: ID_PARAM,
      json: OutputScorePrepareSchema,
      binary: NPY_BODY,
      query: [
        npyQuery("features", { description: "URL-encoded JSON list of features" }),
        npyQuery("factor", { description: "steering factor", type: "number" }),
      ],
    },
    responses: {
      200: answer("one steered row per feature", ActivationsResponseSchema),
      ...DICTIONARY_POST_ERRORS,
    },
    examples: [{
      name: "two features",
      params: { id: DEMO.topk },
      body: { features: [17, 80], activations: demoRows(1)[0], factor: 10 },
    }],
    handler: async (c) => {
      const { body: req, x: row, form } = await activationsBody(c, OutputScorePrepareSchema, {
        maxBodyBytes: deps.maxBodyBytes,
        jsonKeys: ["features"],
        flatRow: true,
      });
      const id = pathParam(c, "id");
      const steered = await withDictionary(deps, async (lease) => {
        checkSteerable(lease.description, id); // 422 for a transcoder
        checkFeatures(req.features, lease.description.dSae);
        checkFeatureScores(limits, { dims: lease.description }, {
          features: req.features.length,
          steered: true,
          answerNumbers: req.features.length * lease.description.dIn,
        });
        const x = oneRow(row, lease.description.dIn);
        return await prepareRows(deps.backend, lease, {
          x,
          features: req.features,
          factor: req.factor,
        });
      }, { id, needHead: false });
      return await activationsResponse(c, steered, {
        form,
        backend: deps.backend.name,
        jobs: deps.jobs,
        signal: requestSignal(c),
      });
    },
  }, {
    method: "post",
    path: "/v1/dictionaries/:id/features/output-score",
    tag: "features",
    summary:
      "Output score, step 2: score next-token logits (or activations, before the final norm)",
    description: "Send logits [features, vocab] from your model, or the prompt's activation when " +
      "the dictionary feeds the final norm (saeserve.json before_final_norm)." + headNote,
    request: { params: ID_PARAM, json: OutputScoreRequestSchema },
    responses: {
      200: answer("score, min rank and max probability per feature", OutputScoreResponseSchema),
      ...DICTIONARY_POST_ERRORS,
    },
    examples: [
      {
        name: "activations",
        summary: "finish alone (demo-topk feeds the final norm)",
        params: { id: DEMO.topk },
        body: { features: [17, 80], activations: demoRows(1)[0], factor: 10, top: 10 },
      },
      {
        name: "logits",
        summary: "score your model's logits",
        params: { id: DEMO.topk },
        body: { features: [17], logits: demoRows(1, { cols: DEMO.vocab, seed: 3 }), top: 10 },
      },
    ],
    handler: async (c) => {
      const req = await jsonBody(c, OutputScoreRequestSchema, deps);
      if (!req.logits === !req.activations) {
        throw new SaeError(
          "invalid",
          "send either logits (from your model) or activations (dictionaries before the final norm)",
        );
      }
      const id = pathParam(c, "id");
      const scores = await withDictionary(deps, async (lease, head, info) => {
        checkFeatures(req.features, lease.description.dSae);
        checkFeatureScores(limits, { dims: lease.description, head: head! }, {
          features: req.features.length,
          top: req.top,
          steered: !req.logits,
          scored: true,
          answerNumbers: req.features.length * 4,
        });
        const lenses = await lensIds(deps.backend, lease, { ...req, head: head! });
        let logits: Matrix;
        if (req.logits) {
          logits = jsonMatrix(req.logits, "logits");
          if (logits.rows !== req.features.length || logits.cols !== head!.vocab) {
            throw new SaeError(
              "invalid",
              `logits must be [${req.features.length}, ${
                head!.vocab
              }] (features x vocabulary), got [${logits.rows}, ${logits.cols}]`,
            );
          }
        } else {
          if (!info.beforeFinalNorm) {
            throw new SaeError(
              "invalid",
              "this dictionary does not feed the final norm (saeserve.json before_final_norm): send logits",
            );
          }
          checkSteerable(lease.description, id); // 422 for a transcoder
          const x = oneRow(req.activations!, lease.description.dIn);
          const steered = await prepareRows(deps.backend, lease, {
            x,
            features: req.features,
            factor: req.factor,
          });
          logits = await headLogits(deps.backend, { head: head!, x: steered });
        }
        expectFiniteResult(logits.data, "the logits");
        return req.features.map((feature, n) => {
          const s = outputScore(
            logits.data.subarray(n * logits.cols, (n + 1) * logits.cols),
            lenses[n].map((t) => t.id),
          );
          return { feature, score: s.score, min_rank: s.minRank, max_prob: s.maxProb };
        });
      }, { id, needHead: true });
      backendHeader(c);
      return c.json({ scores });
    },
  }, {
    method: "post",
    path: "/v1/dictionaries/:id/features/stats",
    tag: "features",
    summary: "Feature statistics: density, mean, max, top-activating rows",
    request: {
      params: ID_PARAM,
      json: FeatureStatsRequestSchema,
      binary: NPY_BODY,
      query: [
        npyQuery("features", {
          description: "URL-encoded JSON list of features (default: all that fire)",
        }),
        npyQuery("token_ids", { description: "URL-encoded JSON list, one per row" }),
        npyQuery("top_rows", { description: "top-activating rows per feature", type: "integer" }),
      ],
    },
    responses: {
      200: answer(
        "statistics of every feature that fires (or of `features`)",
        FeatureStatsResponseSchema,
      ),
      ...DICTIONARY_POST_ERRORS,
    },
    examples: [{
      name: "eight rows",
      params: { id: DEMO.topk },
      body: { activations: demoRows(8), token_ids: [1, 2, 3, 4, 5, 6, 7, 8], top_rows: 3 },
    }],
    handler: async (c) => {
      const { body: req, x } = await activationsBody(c, FeatureStatsRequestSchema, {
        maxBodyBytes: deps.maxBodyBytes,
        jsonKeys: ["features", "token_ids"],
      });
      if (req.token_ids && req.token_ids.length !== x.rows) {
        throw new SaeError("invalid", `token_ids needs one entry per activation row (${x.rows})`);
      }
      const stats = await withDictionary(deps, async (lease) => {
        if (req.features) checkFeatures(req.features, lease.description.dSae);
        const ask = { rows: x.rows, features: req.features?.length, topRows: req.top_rows };
        checkFeatureStats(limits, lease.description, ask);
        const { codes } = await encodeRows(
          { backend: deps.backend, prepared: lease.prepared },
          x,
          {},
        );
        checkFeatureStats(limits, lease.description, { ...ask, codes });
        return featureStats(codes, {
          tokenIds: req.token_ids,
          features: req.features,
          topRows: req.top_rows,
        });
      }, { id: pathParam(c, "id"), needHead: false });
      backendHeader(c);
      return c.json({
        rows: x.rows,
        features: stats.map((s) => ({
          feature: s.feature,
          density: s.density,
          mean: s.mean,
          max: s.max,
          top_rows: s.topRows.map((t) => ({
            row: t.row,
            activation: t.activation,
            token_id: t.tokenId,
          })),
        })),
      });
    },
  }];
}
