/**
 * POST /v1/dictionaries/{id}/encode, /decode and /steer: parse and validate the request, borrow
 * the dictionary from the registry, compute through the domain pipeline, serialize.
 * @module
 */

import { type Context, Hono } from "hono";
import type { Backend } from "../backends/backend.ts";
import type { Lease } from "../service/registry.ts";
import { decodeRows, type EncodeInclude, encodeRows } from "../domain/sae/sae.ts";
import { type Intervention, steerRows } from "../domain/sae/steer.ts";
import { imageCount, patchRows } from "../domain/features/vision.ts";
import type { ImageMaps } from "../service/jobs/mod.ts";
import { requestSignal } from "./request_signal.ts";
import { SaeError } from "../domain/errors.ts";
import type { Matrix, SparseRows } from "../domain/sae/matrix.ts";
import {
  jsonMatrix,
  npyMatrix,
  parseJsonObject,
  queryOptions,
  readBody,
  requestForm,
  validate,
} from "./body.ts";
import type { AppDeps } from "./deps.ts";
import { checkCodesAnswer, checkDecode, checkEncode, checkSteer } from "./cost_checks.ts";
import { limitsOf } from "./limits.ts";
import {
  activationsResponse,
  BACKEND_HEADER,
  expectFiniteResult,
  jsonAnswer,
  matrixRows,
  npzResponse,
  paddedCodes,
  wantsNpy,
  wantsNpz,
} from "./respond.ts";
import { DecodeRequestSchema, EncodeOptionsSchema, SteerOptionsSchema } from "./schemas.ts";

/** Split a JSON body into its activations and the remaining option fields. */
function splitActivations(
  body: Record<string, unknown>,
): { activations: unknown; rest: Record<string, unknown> } {
  const { activations, ...rest } = body;
  if (activations === undefined) {
    throw new SaeError("malformed", "body needs an `activations` field");
  }
  return { activations, rest };
}

/** Activations and options of a request in either form. */
async function activationsRequest(
  c: Context,
  deps: AppDeps,
  query: { jsonKeys?: string[]; listKeys?: string[] },
): Promise<{ x: Matrix; options: Record<string, unknown>; form: "json" | "npy" }> {
  const form = requestForm(c);
  const bytes = await readBody(c, deps.maxBodyBytes);
  if (form === "npy") {
    return { x: npyMatrix(bytes, "activations"), options: queryOptions(c, query), form };
  }
  const { activations, rest } = splitActivations(parseJsonObject(bytes));
  return { x: jsonMatrix(activations, "activations"), options: rest, form };
}

async function withLease<T>(
  deps: AppDeps,
  id: string,
  work: (lease: Lease) => Promise<T>,
): Promise<T> {
  const lease = await deps.registry.acquire(id);
  try {
    return await work(lease);
  } finally {
    lease.release();
  }
}

/** Sparse codes from JSON indices/values, checked for shape. */
function jsonSparse(indices: number[][], values: number[][], width: number): SparseRows {
  if (indices.length !== values.length) {
    throw new SaeError(
      "invalid",
      `indices has ${indices.length} rows but values has ${values.length}`,
    );
  }
  return {
    width,
    indices: indices.map((ix, r) => {
      if (ix.length !== values[r].length) {
        throw new SaeError(
          "invalid",
          `row ${r}: ${ix.length} indices but ${values[r].length} values`,
        );
      }
      // Int32Array.from would wrap 2^32 to 0: refuse what cannot be a feature index.
      const outside = ix.find((i) => i < 0 || i > 0x7fffffff);
      if (outside !== undefined) {
        throw new SaeError("invalid", `row ${r}: feature index ${outside} is out of range`);
      }
      return Int32Array.from(ix);
    }),
    values: values.map((v, r) => {
      if (!v.every((e) => typeof e === "number")) {
        throw new SaeError("malformed", `values[${r}] must hold numbers`);
      }
      const out = Float32Array.from(v);
      if (out.some((e) => !Number.isFinite(e))) {
        throw new SaeError("invalid", `values[${r}] has a non-finite value`);
      }
      return out;
    }),
  };
}

/** Per-image feature maps of a vision request (encode with `grid`), drawn on a live worker. */
function gridMaps(
  deps: AppDeps,
  codes: SparseRows,
  options: {
    rows: number;
    grid?: number[];
    skip_tokens: number;
    map_features?: number[];
    maps_top: number;
    signal: AbortSignal;
  },
): Promise<ImageMaps[]> {
  const grid = { h: options.grid![0], w: options.grid![1], skip: options.skip_tokens };
  return deps.jobs.run("feature_maps", {
    codes,
    rows: options.rows,
    grid,
    images: imageCount(options.rows, grid),
    features: options.map_features,
    top: options.maps_top,
  }, { priority: "live", signal: options.signal });
}

/** Interventions with `patches` turned into row positions over every image of the grid. */
function withPatchPositions(
  options: { interventions: Intervention[]; grid?: number[]; skip_tokens: number },
  rows: number,
): Intervention[] {
  return options.interventions.map((iv) => {
    const { patches, ...rest } = iv as Intervention & {
      patches?: number[] | boolean[] | boolean[][];
    };
    if (patches === undefined) return rest;
    if (!options.grid) throw new SaeError("invalid", "patches need a grid: [h, w]");
    if (iv.positions) throw new SaeError("invalid", "give positions or patches, not both");
    const grid = { h: options.grid[0], w: options.grid[1], skip: options.skip_tokens };
    return { ...rest, positions: patchRows(patches, { grid, images: imageCount(rows, grid) }) };
  });
}

/** Routes computing with one dictionary. */
export function computeRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  /** The backend for this request: the service's, or the one X-Saeserve-Backend names when allowed. */
  const pick = (c: Context): Backend => {
    const wanted = c.req.header(BACKEND_HEADER);
    return wanted && deps.chooseBackend ? deps.chooseBackend(wanted) : deps.backend;
  };

  app.post("/:id/encode", async (c) => {
    const req = await activationsRequest(c, deps, { listKeys: ["include"] });
    if (typeof req.options.include === "string") {
      req.options.include = req.options.include.split(",").map((s) => s.trim());
    }
    c.set("rows" as never, req.x.rows as never);
    const options = validate(EncodeOptionsSchema, req.options, "option");
    const include = new Set<EncodeInclude>(options.include ?? []);
    const compute = pick(c);
    let answer = { otherBytes: 0, binary: wantsNpz(c) };
    const result = await withLease(
      deps,
      c.req.param("id"),
      (lease) => {
        // Cost first: top <= d_sae, map_features deduplicated, work and answer within budget.
        const cost = checkEncode(limitsOf(deps), lease.description, {
          rows: req.x.rows,
          options,
          ...answer,
        });
        options.map_features = cost.mapFeatures;
        answer = { ...answer, otherBytes: cost.otherBytes };
        return encodeRows(compute, lease.prepared, req.x, {
          top: options.top,
          include,
          signal: requestSignal(c),
        });
      },
    );
    checkCodesAnswer(limitsOf(deps), result.codes, answer);
    const backend = compute.name; // after computing: a failover may have moved the work
    for (const v of result.codes.values) expectFiniteResult(v, "the codes");
    if (result.reconstruction) expectFiniteResult(result.reconstruction.data, "the reconstruction");
    if (result.error) expectFiniteResult(result.error.data, "the error");
    if (wantsNpz(c)) {
      const padded = paddedCodes(result.codes);
      const rows = req.x.rows;
      const arrays: Record<string, { shape: number[]; data: Float32Array | Int32Array }> = {
        indices: { shape: [rows, padded.width], data: padded.indices },
        values: { shape: [rows, padded.width], data: padded.values },
      };
      if (result.reconstruction) {
        arrays.reconstruction = { shape: [rows, req.x.cols], data: result.reconstruction.data };
      }
      if (result.error) arrays.error = { shape: [rows, req.x.cols], data: result.error.data };
      if (result.metrics) c.header("X-Saeserve-Metrics", JSON.stringify(result.metrics));
      return await npzResponse(c, arrays, backend);
    }
    c.header(BACKEND_HEADER, backend);
    return await jsonAnswer(c, {
      indices: result.codes.indices,
      values: result.codes.values,
      reconstruction: result.reconstruction ? matrixRows(result.reconstruction) : undefined,
      error: result.error ? matrixRows(result.error) : undefined,
      metrics: result.metrics,
      maps: options.grid
        ? await gridMaps(deps, result.codes, {
          ...options,
          rows: req.x.rows,
          signal: requestSignal(c),
        })
        : undefined,
    }, { jobs: deps.jobs, signal: requestSignal(c) });
  });

  app.post("/:id/decode", async (c) => {
    const form = requestForm(c);
    const bytes = await readBody(c, deps.maxBodyBytes);
    const id = c.req.param("id");
    let codes: SparseRows | Matrix;
    if (form === "npy") {
      codes = npyMatrix(bytes, "codes");
    } else {
      const body = validate(DecodeRequestSchema, parseJsonObject(bytes), "body");
      codes = "codes" in body
        ? jsonMatrix(body.codes, "codes")
        : jsonSparse(body.indices, body.values, 0);
    }
    const compute = pick(c);
    const y = await withLease(deps, id, (lease) => {
      const rows = "data" in codes ? codes.rows : codes.indices.length;
      const nonZeros = "data" in codes
        ? undefined
        : codes.indices.reduce((n, ix) => n + ix.length, 0);
      checkDecode(limitsOf(deps), lease.description, { rows, nonZeros, binary: wantsNpy(c, form) });
      return decodeRows(compute, lease.prepared, codes, { signal: requestSignal(c) });
    });
    return await activationsResponse(c, y, {
      form,
      backend: compute.name,
      jobs: deps.jobs,
      signal: requestSignal(c),
    });
  });

  app.post("/:id/steer", async (c) => {
    const req = await activationsRequest(c, deps, { jsonKeys: ["interventions"] });
    c.set("rows" as never, req.x.rows as never);
    const options = validate(SteerOptionsSchema, req.options, "option");
    const compute = pick(c);
    const requested = withPatchPositions(options, req.x.rows);
    const y = await withLease(deps, c.req.param("id"), (lease) => {
      // Positions deduplicated and < rows; the steering work and the answer within budget.
      const interventions = checkSteer(limitsOf(deps), lease.description, {
        rows: req.x.rows,
        interventions: requested,
        binary: wantsNpy(c, req.form),
      });
      return steerRows(compute, lease.prepared, req.x, interventions, { signal: requestSignal(c) });
    });
    return await activationsResponse(c, y, {
      form: req.form,
      backend: compute.name,
      jobs: deps.jobs,
      signal: requestSignal(c),
    });
  });

  return app;
}
