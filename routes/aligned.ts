/**
 * Aligned (SPARC) dictionaries: GET /v1/aligned lists them, GET /v1/aligned/{id} describes one;
 * under /v1/aligned/{id}/: encode several streams into the shared
 * latent space (global or local TopK) with per-row Jaccard of their active sets, translate one
 * stream's activations into another's space, and concept alignment against multi-hot labels.
 * @module
 */

import { SaeError } from "../domain/errors.ts";
import type { Matrix } from "../domain/sae/matrix.ts";
import { activationsBody, jsonBody } from "./body.ts";
import { jsonMatrix } from "./body_matrix.ts";
import type { AppDeps } from "./deps.ts";
import { checkAligned } from "./research_costs.ts";
import { DEMO, demoRows } from "./examples.ts";
import {
  AUTH_STATUSES,
  NPY_BODY,
  npyQuery,
  type Operation,
  pathParam,
  problems,
} from "./operation.ts";
import { alignedJson } from "./dictionaries.ts";
import {
  ActivationsResponseSchema,
  AlignedEncodeResponseSchema,
  AlignedListSchema,
  AlignedSchema,
  ConceptAlignmentResponseSchema,
} from "./response_schemas.ts";
import { limitsOf } from "./limits.ts";
import { requestSignal } from "./request_signal.ts";
import { activationsResponse } from "./respond.ts";
import { AlignedEncodeSchema, AlignedTranslateSchema, ConceptAlignmentSchema } from "./schemas.ts";

/** Errors of the aligned routes (404: no aligned dictionary of that id). */
const ALIGNED_ERRORS = problems(400, ...AUTH_STATUSES, 404, 413, 415, 422, 503);

/** The `id` of an aligned dictionary. */
const ALIGNED_ID = { id: 'Aligned dictionary id (saeserve.json kind "aligned"), URL-encoded.' };

/** Example streams of the demo aligned dictionary: a (d 6), b (d 5), c (d 4). */
function exampleStreams(rows: number): Record<string, number[][]> {
  return {
    a: demoRows(rows, { cols: 6 }),
    b: demoRows(rows, { cols: 5, seed: 1 }),
    c: demoRows(rows, { cols: 4, seed: 2 }),
  };
}

/** Matrices of each named stream. */
function inputs(streams: Record<string, number[][]>): Map<string, Matrix> {
  return new Map<string, Matrix>(
    Object.entries(streams).map(([name, rows]) => [name, jsonMatrix(rows, `streams.${name}`)]),
  );
}

/** Concept labels: a rectangle of at least one class, each a finite non-negative weight. */
function checkLabels(labels: number[][]): void {
  const classes = labels[0]?.length ?? 0;
  if (labels.length && classes === 0) {
    throw new SaeError("invalid", "labels need one class or more");
  }
  labels.forEach((row, r) => {
    if (row.length !== classes) {
      throw new SaeError(
        "invalid",
        `labels row ${r} has ${row.length} classes, row 0 has ${classes}`,
      );
    }
    const c = row.findIndex((v) => !(v >= 0) || !Number.isFinite(Math.fround(v)));
    if (c >= 0) {
      throw new SaeError(
        "invalid",
        `labels[${r}][${c}] is ${row[c]}: labels are multi-hot (0 / 1) or non-negative weights ` +
          "within f32 (at most about 3.4e38)",
      );
    }
  });
}

type Aligned = Awaited<ReturnType<AppDeps["registry"]["acquireAligned"]>>["aligned"];

/** Run `work` with the aligned dictionary (its weights live in shared memory for workers). */
async function withAligned<T>(
  deps: AppDeps,
  id: string,
  work: (d: Aligned) => Promise<T>,
): Promise<T> {
  const lease = await deps.registry.acquireAligned(id);
  try {
    return await work(lease.aligned);
  } finally {
    lease.release();
  }
}

/** The aligned operations. */
export function alignedOperations(deps: AppDeps): Operation[] {
  const limits = limitsOf(deps);
  const id = { id: DEMO.aligned };
  return [{
    method: "get",
    path: "/v1/aligned",
    tag: "aligned",
    summary: "List the aligned dictionaries in the store",
    description: "Described from their saeserve.json; an unreadable one is listed with its " +
      '`error`. GET /v1/dictionaries lists them too, with `kind` "aligned".',
    responses: {
      200: { description: "the list", content: { "application/json": AlignedListSchema } },
      ...problems(...AUTH_STATUSES, 503),
    },
    handler: async (c) => {
      const { aligned } = await deps.registry.catalog();
      return c.json({ aligned: aligned.map(alignedJson) });
    },
  }, {
    method: "get",
    path: "/v1/aligned/:id",
    tag: "aligned",
    summary: "Describe one aligned dictionary: its streams, latents and k",
    request: { params: ALIGNED_ID },
    responses: {
      200: { description: "its metadata", content: { "application/json": AlignedSchema } },
      ...problems(...AUTH_STATUSES, 404, 503),
    },
    examples: [{ name: "demo", params: id }],
    handler: async (c) => {
      return c.json(alignedJson(await deps.registry.describeAligned(pathParam(c, "id"))));
    },
  }, {
    method: "post",
    path: "/v1/aligned/:id/encode",
    tag: "aligned",
    summary: "Encode several streams into the shared latent space, with per-row Jaccard",
    description: "global TopK picks one active set for all streams; local, one per stream.",
    request: { params: ALIGNED_ID, json: AlignedEncodeSchema },
    responses: {
      200: {
        description: "codes per stream and the Jaccard of their active sets per row",
        content: { "application/json": AlignedEncodeResponseSchema },
      },
      ...ALIGNED_ERRORS,
    },
    examples: [{
      name: "three streams",
      params: id,
      body: { streams: exampleStreams(2), topk: "local" },
    }],
    handler: async (c) => {
      const body = await jsonBody(c, AlignedEncodeSchema, deps);
      const x = inputs(body.streams);
      const out = await withAligned(deps, pathParam(c, "id"), (dict) => {
        checkAligned(limits, dict, { streams: x });
        return deps.jobs.run("aligned_encode", { dict, x, topk: body.topk }, {
          signal: requestSignal(c),
        });
      });
      const obj = (m: Map<string, Int32Array[] | Float32Array[]>) =>
        Object.fromEntries([...m].map(([k, rows]) => [k, rows.map((r) => Array.from(r))]));
      return c.json({ indices: obj(out.indices), values: obj(out.values), jaccard: out.jaccard });
    },
  }, {
    method: "post",
    path: "/v1/aligned/:id/translate",
    tag: "aligned",
    summary: "Translate one stream's activations into another stream's space",
    request: {
      params: ALIGNED_ID,
      json: AlignedTranslateSchema,
      binary: NPY_BODY,
      query: [
        npyQuery("from", { description: "source stream" }),
        npyQuery("to", { description: "target stream" }),
      ],
    },
    responses: {
      200: {
        description: "the activations in the target stream's space",
        content: { "application/json": ActivationsResponseSchema },
      },
      ...ALIGNED_ERRORS,
    },
    examples: [{
      name: "a to b",
      params: id,
      body: { from: "a", to: "b", activations: demoRows(2, { cols: 6 }) },
    }],
    handler: async (c) => {
      const { body, x } = await activationsBody(c, AlignedTranslateSchema, {
        maxBodyBytes: deps.maxBodyBytes,
        stringKeys: ["from", "to"],
      });
      const y = await withAligned(deps, pathParam(c, "id"), (dict) => {
        checkAligned(limits, dict, { streams: new Map([[body.from, x]]), decodeTo: body.to });
        return deps.jobs.run("aligned_translate", { dict, x, from: body.from, to: body.to }, {
          signal: requestSignal(c),
        });
      });
      return await activationsResponse(c, y, {
        form: "json",
        backend: "reference",
        jobs: deps.jobs,
        signal: requestSignal(c),
      });
    },
  }, {
    method: "post",
    path: "/v1/aligned/:id/concept-alignment",
    tag: "aligned",
    summary: "Concept alignment: per-latent Jaccard of the streams' label profiles",
    description: "Labels are multi-hot [rows, classes] (or non-negative weights); at least two " +
      "streams. mean_jaccard averages every latent, counting dead latents and latents alive in " +
      "fewer than two streams as 0; also lists dead and mixed latents.",
    request: { params: ALIGNED_ID, json: ConceptAlignmentSchema },
    responses: {
      200: {
        description: "mean and per-latent Jaccard, dead and mixed latents",
        content: { "application/json": ConceptAlignmentResponseSchema },
      },
      ...ALIGNED_ERRORS,
    },
    examples: [{
      name: "four rows, two classes",
      params: id,
      body: { streams: exampleStreams(4), labels: [[1, 0], [0, 1], [1, 1], [0, 1]] },
    }],
    handler: async (c) => {
      const body = await jsonBody(c, ConceptAlignmentSchema, deps);
      const x = inputs(body.streams);
      if (x.size < 2) {
        throw new SaeError(
          "invalid",
          `concept alignment compares streams: give at least two (got ${x.size})`,
        );
      }
      const rows = [...x.values()][0]?.rows ?? 0;
      if (body.labels.length !== rows) {
        throw new SaeError(
          "invalid",
          `labels has ${body.labels.length} rows for ${rows} activation rows`,
        );
      }
      checkLabels(body.labels);
      const result = await withAligned(deps, pathParam(c, "id"), (dict) => {
        const classes = body.labels[0]?.length ?? 0;
        checkAligned(limits, dict, { streams: x, classes });
        return deps.jobs.run(
          "concept_alignment",
          { dict, x, topk: body.topk, labels: body.labels },
          { signal: requestSignal(c) },
        );
      });
      return c.json({
        mean_jaccard: result.mean,
        per_latent: result.perLatent,
        dead: result.dead,
        mixed: result.mixed,
      });
    },
  }];
}
