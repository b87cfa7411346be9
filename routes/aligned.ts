/**
 * Aligned (SPARC) dictionaries under /v1/aligned/{id}/: encode several streams into the shared
 * latent space (global or local TopK) with per-row Jaccard of their active sets, translate one
 * stream's activations into another's space, and concept alignment against multi-hot labels.
 * @module
 */

import { type Context, Hono } from "hono";
import { SaeError } from "../domain/errors.ts";
import type { Matrix } from "../domain/sae/matrix.ts";
import { jsonMatrix, parseJsonObject, readBody, requireJson, validate } from "./body.ts";
import type { AppDeps } from "./deps.ts";
import { checkAligned } from "./cost_checks.ts";
import { limitsOf } from "./limits.ts";
import { requestSignal } from "./request_signal.ts";
import { activationsResponse } from "./respond.ts";
import { AlignedEncodeSchema, AlignedTranslateSchema, ConceptAlignmentSchema } from "./schemas.ts";

/** The aligned routes. */
export function alignedRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  const json = async (c: Context) => {
    requireJson(c);
    return parseJsonObject(await readBody(c, deps.maxBodyBytes));
  };
  const inputs = (streams: Record<string, number[][]>) =>
    new Map<string, Matrix>(
      Object.entries(streams).map(([name, rows]) => [name, jsonMatrix(rows, `streams.${name}`)]),
    );
  /** Run `work` with the aligned dictionary (its weights live in shared memory for workers). */
  async function withAligned<T>(
    id: string,
    work: (d: Awaited<ReturnType<AppDeps["registry"]["acquireAligned"]>>["aligned"]) => Promise<T>,
  ): Promise<T> {
    const lease = await deps.registry.acquireAligned(id);
    try {
      return await work(lease.aligned);
    } finally {
      lease.release();
    }
  }

  app.post("/:id/encode", async (c) => {
    const body = validate(AlignedEncodeSchema, await json(c), "body");
    const x = inputs(body.streams);
    const out = await withAligned(
      c.req.param("id"),
      (dict) => {
        checkAligned(limitsOf(deps), dict, { streams: x });
        return deps.jobs.run("aligned_encode", { dict, x, topk: body.topk }, {
          signal: requestSignal(c),
        });
      },
    );
    const obj = (m: Map<string, Int32Array[] | Float32Array[]>) =>
      Object.fromEntries([...m].map(([k, rows]) => [k, rows.map((r) => Array.from(r))]));
    return c.json({ indices: obj(out.indices), values: obj(out.values), jaccard: out.jaccard });
  });

  app.post("/:id/translate", async (c) => {
    const body = validate(AlignedTranslateSchema, await json(c), "body");
    const x = jsonMatrix(body.activations, "activations");
    const y = await withAligned(
      c.req.param("id"),
      (dict) => {
        checkAligned(limitsOf(deps), dict, {
          streams: new Map([[body.from, x]]),
          decodeTo: body.to,
        });
        return deps.jobs.run("aligned_translate", { dict, x, from: body.from, to: body.to }, {
          signal: requestSignal(c),
        });
      },
    );
    return await activationsResponse(c, y, {
      form: "json",
      backend: "reference",
      jobs: deps.jobs,
      signal: requestSignal(c),
    });
  });

  app.post("/:id/concept-alignment", async (c) => {
    const body = validate(ConceptAlignmentSchema, await json(c), "body");
    const x = inputs(body.streams);
    const rows = [...x.values()][0]?.rows ?? 0;
    if (body.labels.length !== rows) {
      throw new SaeError(
        "invalid",
        `labels has ${body.labels.length} rows for ${rows} activation rows`,
      );
    }
    const result = await withAligned(
      c.req.param("id"),
      (dict) => {
        const classes = body.labels[0]?.length ?? 0;
        checkAligned(limitsOf(deps), dict, { streams: x, classes });
        return deps.jobs.run(
          "concept_alignment",
          { dict, x, topk: body.topk, labels: body.labels },
          {
            signal: requestSignal(c),
          },
        );
      },
    );
    return c.json({
      mean_jaccard: result.mean,
      per_latent: result.perLatent,
      dead: result.dead,
      mixed: result.mixed,
    });
  });
  return app;
}
