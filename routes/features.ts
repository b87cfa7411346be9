/**
 * Feature scoring and steering-vector export under /v1/dictionaries/{id}/: logit lens, input
 * score, the two-step output score (prepare steered activations; score the caller's logits,
 * or finish alone when the dictionary feeds the model's final norm), corpus statistics, and
 * summed steering directions as JSON, .npy or a llama.cpp control-vector GGUF.
 * @module
 */

import { type Context, Hono } from "hono";
import type { Backend } from "../backends/backend.ts";
import {
  decoderRows,
  featureStats,
  headLogits,
  inputScore,
  type LensToken,
  logitLens,
  outputScore,
  steeringVector,
} from "../domain/features/feature_scores.ts";
import { encodeControlVector } from "../domain/io/gguf.ts";
import { SaeError } from "../domain/errors.ts";
import type { ModelHead } from "../domain/features/head.ts";
import { type Matrix, matrix } from "../domain/sae/matrix.ts";
import { encodeNpy } from "../domain/io/npy.ts";
import type { Lease } from "../service/registry.ts";
import { encodeRows } from "../domain/sae/sae.ts";
import { decoderDirections, steerRows } from "../domain/sae/steer.ts";
import { jsonMatrix, parseJsonObject, readBody, requireJson, validate } from "./body.ts";
import type { AppDeps } from "./deps.ts";
import { requestSignal } from "./request_signal.ts";
import { checkFeatureScores, checkFeatureStats } from "./cost_checks.ts";
import { limitsOf } from "./limits.ts";
import { activationsResponse, BACKEND_HEADER } from "./respond.ts";
import {
  FeatureStatsRequestSchema,
  InputScoreRequestSchema,
  LogitLensRequestSchema,
  OutputScorePrepareSchema,
  OutputScoreRequestSchema,
  SteeringVectorRequestSchema,
} from "./schemas.ts";

/** What a dictionary's saeserve.json says about its model. */
interface ModelInfo {
  readonly head?: string;
  readonly beforeFinalNorm: boolean;
  readonly hook?: string;
  readonly model?: string;
}

async function modelInfo(deps: AppDeps, id: string): Promise<ModelInfo> {
  const sidecar = (await deps.registry.describe(id)).sidecar ?? {};
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  return {
    head: str(sidecar.head),
    beforeFinalNorm: sidecar.before_final_norm === true,
    hook: str(sidecar.hook),
    model: str(sidecar.model),
  };
}

/** Run `work` with the dictionary and, when `needHead`, its model head. */
async function withDictionary<T>(
  deps: AppDeps,
  id: string,
  work: (lease: Lease, head: ModelHead | null, info: ModelInfo) => Promise<T>,
  options: { needHead: boolean },
): Promise<T> {
  const info = await modelInfo(deps, id);
  if (options.needHead && !info.head) {
    throw new SaeError("invalid", `dictionary ${id} names no model head (saeserve.json "head")`);
  }
  const lease = await deps.registry.acquire(id);
  try {
    if (!options.needHead) return await work(lease, null, info);
    const headLease = await deps.registry.acquireHead(info.head!);
    try {
      if (headLease.head.dModel !== lease.description.dIn) {
        throw new SaeError(
          "unavailable",
          `model head ${info.head} has d_model ${headLease.head.dModel}, dictionary ${id} has d_in ${lease.description.dIn}`,
        );
      }
      return await work(lease, headLease.head, info);
    } finally {
      headLease.release();
    }
  } finally {
    lease.release();
  }
}

function checkFeatures(features: readonly number[], dSae: number): void {
  for (const f of features) {
    if (f >= dSae) throw new SaeError("invalid", `feature ${f} outside [0, ${dSae})`);
  }
}

/** One activation row given as [d] or [[d]]. */
function oneRow(value: number[] | number[][], dIn: number): Matrix {
  const rows = Array.isArray(value[0]) ? value as number[][] : [value as number[]];
  if (rows.length !== 1) {
    throw new SaeError("invalid", `activations must be one row, got ${rows.length}`);
  }
  const m = jsonMatrix(rows, "activations");
  if (m.cols !== dIn) {
    throw new SaeError(
      "invalid",
      `activations has ${m.cols} columns, the dictionary d_in is ${dIn}`,
    );
  }
  return m;
}

async function lensIds(backend: Backend, lease: Lease, head: ModelHead, options: {
  features: readonly number[];
  top: number;
}): Promise<LensToken[][]> {
  const dirs = await decoderDirections(backend, lease.prepared, options.features);
  return await logitLens(backend, head, {
    directions: decoderRows(options.features, dirs),
    top: options.top,
  });
}

/** Steered copies of one row x: row n adds factor * max_j f_j to features[n]. */
async function prepareRows(
  backend: Backend,
  lease: Lease,
  options: { x: Matrix; features: readonly number[]; factor: number },
): Promise<Matrix> {
  const n = options.features.length;
  const d = options.x.cols;
  const repeated = matrix(n, d);
  for (let r = 0; r < n; r++) repeated.data.set(options.x.data, r * d);
  return await steerRows(
    backend,
    lease.prepared,
    repeated,
    options.features.map((feature, r) => ({
      feature,
      mode: "add" as const,
      value: options.factor,
      relative: true,
      positions: [r],
    })),
  );
}

/** llama.cpp layer of a hook name: blocks.L.hook_resid_post -> L + 1, hook_resid_pre -> L. */
export function layerOfHook(hook: string | undefined): number | null {
  const pattern =
    /(?:^|\.)(?:blocks|layers)\.(\d+)(?:\.(hook_resid_post|hook_resid_pre|hook_resid_mid))?(?:$|\.)/;
  const m = pattern.exec(hook ?? "");
  if (!m) return null;
  const layer = Number(m[1]);
  return m[2] === "hook_resid_pre" ? layer : layer + 1;
}

/** The feature-scoring and steering-vector routes. */
export function featureRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  const json = async (c: Context) => {
    requireJson(c);
    return parseJsonObject(await readBody(c, deps.maxBodyBytes));
  };
  const backendHeader = (c: Context) => c.header(BACKEND_HEADER, deps.backend.name);

  app.post("/:id/features/logit-lens", async (c) => {
    const body = validate(LogitLensRequestSchema, await json(c), "body");
    const result = await withDictionary(deps, c.req.param("id"), async (lease, head) => {
      checkFeatures(body.features, lease.description.dSae);
      const n = body.features.length;
      checkFeatureScores(limitsOf(deps), { dims: lease.description, head: head! }, {
        features: n,
        top: body.top,
        answerNumbers: n * body.top * 3,
      });
      return await lensIds(deps.backend, lease, head!, body);
    }, { needHead: true });
    backendHeader(c);
    return c.json({
      features: body.features.map((feature, n) => ({ feature, tokens: result[n] })),
    });
  });

  app.post("/:id/features/input-score", async (c) => {
    const body = validate(InputScoreRequestSchema, await json(c), "body");
    const x = jsonMatrix(body.activations, "activations");
    if (body.token_ids.length !== x.rows || body.example_ids.length !== x.rows) {
      throw new SaeError(
        "invalid",
        `token_ids and example_ids need one entry per activation row (${x.rows})`,
      );
    }
    const scores = await withDictionary(deps, c.req.param("id"), async (lease, head) => {
      checkFeatures(body.features, lease.description.dSae);
      const n = body.features.length;
      checkFeatureScores(limitsOf(deps), { dims: lease.description, head: head! }, {
        features: n,
        top: body.top,
        rows: x.rows,
        answerNumbers: n * (2 + 3 * Math.min(body.max_examples, x.rows)),
      });
      const lenses = await lensIds(deps.backend, lease, head!, body);
      const { codes } = await encodeRows(deps.backend, lease.prepared, x, {});
      return body.features.map((feature, n) => {
        const s = inputScore(codes, {
          feature,
          tokenIds: body.token_ids,
          exampleIds: body.example_ids,
          lensIds: lenses[n].map((t) => t.id),
          maxExamples: body.max_examples,
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
    }, { needHead: true });
    backendHeader(c);
    return c.json({ features: scores });
  });

  app.post("/:id/features/output-score/prepare", async (c) => {
    const body = validate(OutputScorePrepareSchema, await json(c), "body");
    const steered = await withDictionary(deps, c.req.param("id"), async (lease) => {
      checkFeatures(body.features, lease.description.dSae);
      checkFeatureScores(limitsOf(deps), { dims: lease.description }, {
        features: body.features.length,
        steered: true,
        answerNumbers: body.features.length * lease.description.dIn,
      });
      const x = oneRow(body.activations, lease.description.dIn);
      return await prepareRows(deps.backend, lease, {
        x,
        features: body.features,
        factor: body.factor,
      });
    }, { needHead: false });
    return await activationsResponse(c, steered, {
      form: "json",
      backend: deps.backend.name,
      jobs: deps.jobs,
      signal: requestSignal(c),
    });
  });

  app.post("/:id/features/output-score", async (c) => {
    const body = validate(OutputScoreRequestSchema, await json(c), "body");
    if (!body.logits === !body.activations) {
      throw new SaeError(
        "invalid",
        "send either logits (from your model) or activations (dictionaries before the final norm)",
      );
    }
    const scores = await withDictionary(deps, c.req.param("id"), async (lease, head, info) => {
      checkFeatures(body.features, lease.description.dSae);
      checkFeatureScores(limitsOf(deps), { dims: lease.description, head: head! }, {
        features: body.features.length,
        top: body.top,
        steered: !body.logits,
        scored: true,
        answerNumbers: body.features.length * 4,
      });
      const lenses = await lensIds(deps.backend, lease, head!, body);
      let logits: Matrix;
      if (body.logits) {
        logits = jsonMatrix(body.logits, "logits");
        if (logits.rows !== body.features.length || logits.cols !== head!.vocab) {
          throw new SaeError(
            "invalid",
            `logits must be [${body.features.length}, ${
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
        const x = oneRow(body.activations!, lease.description.dIn);
        const steered = await prepareRows(deps.backend, lease, {
          x,
          features: body.features,
          factor: body.factor,
        });
        logits = await headLogits(deps.backend, head!, steered);
      }
      return body.features.map((feature, n) => {
        const s = outputScore(
          logits.data.subarray(n * logits.cols, (n + 1) * logits.cols),
          lenses[n].map((t) => t.id),
        );
        return { feature, score: s.score, min_rank: s.minRank, max_prob: s.maxProb };
      });
    }, { needHead: true });
    backendHeader(c);
    return c.json({ scores });
  });

  app.post("/:id/features/stats", async (c) => {
    const body = validate(FeatureStatsRequestSchema, await json(c), "body");
    const x = jsonMatrix(body.activations, "activations");
    if (body.token_ids && body.token_ids.length !== x.rows) {
      throw new SaeError("invalid", `token_ids needs one entry per activation row (${x.rows})`);
    }
    const stats = await withDictionary(deps, c.req.param("id"), async (lease) => {
      if (body.features) checkFeatures(body.features, lease.description.dSae);
      const ask = { rows: x.rows, features: body.features?.length, topRows: body.top_rows };
      checkFeatureStats(limitsOf(deps), lease.description, ask);
      const { codes } = await encodeRows(deps.backend, lease.prepared, x, {});
      checkFeatureStats(limitsOf(deps), lease.description, { ...ask, codes });
      return featureStats(codes, {
        tokenIds: body.token_ids,
        features: body.features,
        topRows: body.top_rows,
      });
    }, { needHead: false });
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
  });

  app.post("/:id/steering-vector", async (c) => {
    const body = validate(SteeringVectorRequestSchema, await json(c), "body");
    const id = c.req.param("id");
    const { vector, info } = await withDictionary(deps, id, async (lease, _head, info) => {
      const features = body.features.map((f) => f.feature);
      checkFeatures(features, lease.description.dSae);
      const dirs = await decoderDirections(deps.backend, lease.prepared, features);
      return {
        vector: steeringVector(body.features, {
          ...dirs,
          unit: body.unit,
          normalize: body.normalize,
        }),
        info,
      };
    }, { needHead: false });
    if (!vector.every(Number.isFinite)) {
      throw new SaeError("invalid", "the steering vector overflows float32: lower the strengths");
    }
    backendHeader(c);
    if (body.format === "npy") {
      return c.body(encodeNpy(vector, [vector.length]), 200, {
        "content-type": "application/x-npy",
      });
    }
    if (body.format === "gguf") {
      const layer = body.layer ?? layerOfHook(info.hook);
      if (layer === null) {
        throw new SaeError(
          "invalid",
          `cannot tell the llama.cpp layer from hook ${JSON.stringify(info.hook)}: pass layer`,
        );
      }
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = encodeControlVector(new Map([[layer, vector]]), { modelHint: info.model });
      } catch (e) {
        // llama.cpp's limits (layer range): the request's values, not a server fault.
        if (e instanceof RangeError) throw new SaeError("invalid", e.message, { cause: e });
        throw e;
      }
      const name = `${id.replaceAll("/", "_")}.gguf`;
      return c.body(bytes, 200, {
        "content-type": "application/octet-stream",
        "content-disposition": `attachment; filename="${name}"`,
      });
    }
    return c.json({
      d: vector.length,
      unit: body.unit,
      normalized: body.normalize,
      vector: Array.from(vector),
    });
  });

  return app;
}
