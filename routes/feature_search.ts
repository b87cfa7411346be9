/**
 * Finding features by meaning: text search over a dictionary's explanations (BM25+), the same
 * across several dictionaries, and contrastive search (features ranked by their mean code over
 * a positive set of activation rows minus that over a negative set).
 * @module
 */

import type { z } from "zod";
import { contrastFeatures } from "../domain/features/search_contrast.ts";
import { SaeError } from "../domain/errors.ts";
import { encodeRows } from "../domain/sae/sae.ts";
import { expectQuery, jsonBody } from "./body.ts";
import { jsonMatrix } from "./body_matrix.ts";
import type { AppDeps } from "./deps.ts";
import { DEMO, demoRows } from "./examples.ts";
import { explainedJson } from "./explained.ts";
import { checkFeatureStats } from "./feature_costs.ts";
import { withDictionary } from "./feature_lease.ts";
import { limitsOf } from "./limits.ts";
import {
  AUTH_STATUSES,
  DICTIONARY_POST_ERRORS,
  ID_PARAM,
  type Operation,
  pathParam,
  problems,
} from "./operation.ts";
import { BACKEND_HEADER } from "./respond.ts";
import {
  ContrastRequestSchema,
  ContrastResponseSchema,
  FeatureSearchAllResponseSchema,
  FeatureSearchRequestSchema,
  FeatureSearchResponseSchema,
  MAX_TOP,
} from "./feature_search_schemas.ts";

const json = (description: string, schema: z.ZodType) => ({
  description,
  content: { "application/json": schema },
});

/** `top` from the query string: an integer in [1, MAX_TOP], default 20. */
function topOf(raw: string | undefined): number {
  if (raw === undefined || raw === "") return 20;
  if (!/^\d+$/.test(raw)) throw new SaeError("malformed", "top must be an integer");
  const top = Number(raw);
  if (top < 1 || top > MAX_TOP) throw new SaeError("invalid", `top must be in [1, ${MAX_TOP}]`);
  return top;
}

/** Search one dictionary's explanations; without a query, its first explained features. */
async function searchOne(deps: AppDeps, id: string, options: { q: string; top: number }) {
  const lease = await deps.registry.acquireExplanations(id);
  try {
    const { set, index } = lease;
    const hits = options.q.trim()
      ? index.search(options.q, { top: options.top })
      : [...set.byFeature.keys()].sort((a, b) => a - b).slice(0, options.top)
        .map((feature) => ({ feature, score: 0 }));
    return {
      explained: set.byFeature.size,
      warnings: set.warnings,
      features: hits.map((h) => ({
        feature: h.feature,
        score: h.score,
        ...explainedJson(set, h.feature),
      })),
    };
  } finally {
    lease.release();
  }
}

/** The feature-search operations. */
export function featureSearchOperations(deps: AppDeps): Operation[] {
  const limits = limitsOf(deps);
  return [{
    method: "get",
    path: "/v1/dictionaries/:id/features/search",
    tag: "features",
    summary: "Search a dictionary's features by their explanations",
    description: "Ranks features by BM25+ relevance of their explanations (explanations.json, " +
      ".json.gz or .jsonl beside the weights) to `q`; the last word also matches as a prefix. " +
      "Without `q`, the first explained features.",
    request: {
      params: ID_PARAM,
      query: [
        { name: "q", description: "words to look for", schema: { type: "string" } },
        {
          name: "top",
          description: `features to return (1 to ${MAX_TOP}, default 20)`,
          schema: { type: "integer" },
        },
      ],
    },
    responses: {
      200: json("features, best first", FeatureSearchResponseSchema),
      ...problems(400, ...AUTH_STATUSES, 404, 422, 503),
    },
    examples: [{ name: "browse", params: { id: DEMO.topk } }],
    handler: async (c) => {
      const id = pathParam(c, "id");
      expectQuery(c, ["q", "top"]);
      const q = c.req.query("q") ?? "";
      if (q.length > 1000) throw new SaeError("invalid", "q is over 1000 characters");
      const found = await searchOne(deps, id, { q, top: topOf(c.req.query("top")) });
      return c.json({
        dictionary: id,
        query: q,
        explained_features: found.explained,
        warnings: found.warnings,
        features: found.features,
      });
    },
  }, {
    method: "post",
    path: "/v1/features/search",
    tag: "features",
    summary: "Search features by their explanations across dictionaries",
    description: "Every dictionary of the store that has explanations, or those listed; hits " +
      "merged best first (BM25+ scores are per dictionary). A listed dictionary that cannot " +
      "be searched is reported in `errors`.",
    request: { json: FeatureSearchRequestSchema },
    responses: {
      200: json("features of every dictionary searched", FeatureSearchAllResponseSchema),
      ...problems(400, ...AUTH_STATUSES, 413, 415, 422, 503),
    },
    examples: [{ name: "pirates", body: { q: "pirate ships", top: 5 } }],
    handler: async (c) => {
      const req = await jsonBody(c, FeatureSearchRequestSchema, deps);
      const ids = req.dictionaries ??
        (await deps.registry.list()).filter((d) => (d.explanations?.count ?? 0) > 0)
          .map((d) => d.id);
      const features: Record<string, unknown>[] = [];
      const errors: { dictionary: string; detail: string }[] = [];
      for (const id of ids) {
        try {
          const found = await searchOne(deps, id, { q: req.q, top: req.top });
          for (const f of found.features) features.push({ dictionary: id, ...f });
        } catch (e) {
          if (!(e instanceof SaeError) || e.kind !== "not_found") throw e;
          errors.push({ dictionary: id, detail: e.message });
        }
      }
      features.sort((a, b) => (b.score as number) - (a.score as number));
      return c.json({
        query: req.q,
        features: features.slice(0, req.top),
        errors: errors.length ? errors : undefined,
      });
    },
  }, {
    method: "post",
    path: "/v1/dictionaries/:id/features/contrast",
    tag: "features",
    summary: "Contrastive search: features more active in one set of activations than another",
    description: "Encodes both sets and ranks features by mean code over `positive` minus mean " +
      "code over `negative` (a row where a feature is silent counts 0), with explanations.",
    request: { params: ID_PARAM, json: ContrastRequestSchema },
    responses: {
      200: {
        ...json("features ranked by mean difference", ContrastResponseSchema),
        headers: { "X-Saeserve-Backend": "the backend that computed it" },
      },
      ...DICTIONARY_POST_ERRORS,
    },
    examples: [{
      name: "two sets",
      params: { id: DEMO.topk },
      body: { positive: demoRows(3), negative: demoRows(3, { seed: 5 }), top: 5 },
    }],
    handler: async (c) => {
      const req = await jsonBody(c, ContrastRequestSchema, deps);
      const positive = jsonMatrix(req.positive, "positive");
      const negative = jsonMatrix(req.negative, "negative");
      const id = pathParam(c, "id");
      const ranked = await withDictionary(deps, async (lease) => {
        for (const [name, m] of [["positive", positive], ["negative", negative]] as const) {
          if (m.cols !== lease.description.dIn) {
            throw new SaeError(
              "invalid",
              `${name} has ${m.cols} columns; this dictionary has d_in = ${lease.description.dIn}`,
            );
          }
        }
        checkFeatureStats(limits, lease.description, {
          rows: positive.rows + negative.rows,
          topRows: 0,
        });
        const p = await encodeRows(
          { backend: deps.backend, prepared: lease.prepared },
          positive,
          {},
        );
        const n = await encodeRows(
          { backend: deps.backend, prepared: lease.prepared },
          negative,
          {},
        );
        return contrastFeatures(p.codes, n.codes, { top: req.top, both: req.both });
      }, { id, needHead: false });
      const lease = await deps.registry.acquireExplanations(id);
      try {
        const side = (hits: typeof ranked.positive) =>
          hits.map((h) => ({
            feature: h.feature,
            positive_mean: h.positiveMean,
            negative_mean: h.negativeMean,
            difference: h.difference,
            ...explainedJson(lease.set, h.feature),
          }));
        c.header(BACKEND_HEADER, deps.backend.name);
        return c.json({ positive: side(ranked.positive), negative: side(ranked.negative) });
      } finally {
        lease.release();
      }
    },
  }];
}
