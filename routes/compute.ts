/**
 * POST /v1/dictionaries/{id}/encode, /decode and /steer: parse and validate the request, borrow
 * the dictionary from the registry, compute through the domain pipeline, serialize.
 * @module
 */

import type { Backend } from "../backends/backend.ts";
import type { Lease } from "../service/registry.ts";
import { decodeRows, type EncodeInclude, encodeRows } from "../domain/sae/sae.ts";
import { steerRows } from "../domain/sae/steer.ts";
import { checkSteerable } from "../domain/families/steerable.ts";
import { requestSignal } from "./request_signal.ts";
import { SaeError } from "../domain/errors.ts";
import type { Matrix, SparseRows } from "../domain/sae/matrix.ts";
import {
  activationsRequest,
  expectQuery,
  parseJsonObject,
  readBody,
  requestForm,
  validate,
} from "./body.ts";
import { jsonMatrix, jsonSparse, npyMatrix } from "./body_matrix.ts";
import type { AppDeps } from "./deps.ts";
import type { AppContext } from "./env.ts";
import { DEMO, demoRows } from "./examples.ts";
import {
  DICTIONARY_POST_ERRORS,
  ID_PARAM,
  NPY_BODY,
  npyQuery,
  type Operation,
  pathParam,
} from "./operation.ts";
import { gridMaps, requireGrid, withPatchPositions } from "./vision_grid.ts";
import { ActivationsResponseSchema, EncodeResponseSchema } from "./response_schemas.ts";
import { checkCodesAnswer, checkDecode, checkEncode, checkSteer } from "./compute_costs.ts";
import { limitsOf } from "./limits.ts";
import {
  activationsResponse,
  BACKEND_HEADER,
  expectFiniteResult,
  jsonAnswer,
  matrixRows,
  metricsArrays,
  npzResponse,
  paddedCodes,
  wantsNpy,
  wantsNpz,
} from "./respond.ts";
import {
  DecodeDenseSchema,
  DecodeRequestSchema,
  DecodeSparseSchema,
  EncodeOptionsSchema,
  EncodeRequestSchema,
  SteerOptionsSchema,
  SteerRequestSchema,
} from "./schemas.ts";

/**
 * A JSON request carries its options in the body: a query string would be ignored, so 400.
 * Checked once the dictionary is found, so an unknown one is still a 404.
 */
function refuseQueryOptions(c: AppContext, form: "json" | "npy"): void {
  if (form !== "json" || !c.req.url.includes("?")) return; // no URL parse on the common path
  const names = [...new URL(c.req.url).searchParams.keys()];
  if (names.length === 0) return;
  throw new SaeError(
    "malformed",
    `with a JSON body, options go in the JSON object, not the query string (got ${
      [...new Set(names)].slice(0, 5).join(", ")
    }); the query string carries options only for .npy bodies`,
  );
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

/** Query parameters of a computing route with an .npy body. */
const query = npyQuery;

/** Answers of decode and steer: JSON, or .npy for an .npy request or Accept application/x-npy. */
const ACTIVATIONS_ANSWER = {
  description: "the activations; .npy when the request was .npy or Accept asks for it",
  content: {
    "application/json": ActivationsResponseSchema,
    "application/x-npy": ".npy [rows, d_in]",
  },
  headers: { "X-Saeserve-Backend": "the backend that computed it" },
};

/** The operations computing with one dictionary: encode, decode, steer. */
export function computeOperations(deps: AppDeps): Operation[] {
  /** The backend for this request: the service's, or the one X-Saeserve-Backend names when allowed. */
  const pick = (c: AppContext): Backend => {
    const wanted = c.req.header(BACKEND_HEADER);
    return wanted && deps.chooseBackend ? deps.chooseBackend(wanted) : deps.backend;
  };
  const vision = demoRows(2 * 17);
  return [{
    method: "post",
    path: "/v1/dictionaries/:id/encode",
    tag: "compute",
    summary: "Encode activations into sparse latents",
    description: "Indices sorted by value, descending. With `grid` (vision), per-image feature " +
      "maps come back as `maps`. Accept application/x-npz answers an .npz of padded codes.",
    request: {
      params: ID_PARAM,
      json: EncodeRequestSchema,
      binary: NPY_BODY,
      query: [
        query("top", { description: "at most this many latents per row", type: "integer" }),
        query("include", { description: "comma list of reconstruction, error, metrics" }),
        query("grid", { description: "vision: URL-encoded JSON [h, w], e.g. %5B16%2C16%5D" }),
        query("skip_tokens", { description: "vision: leading tokens per image", type: "integer" }),
        query("map_features", { description: "vision: URL-encoded JSON list of features to map" }),
        query("maps_top", {
          description: "vision: maps per image when map_features is absent",
          type: "integer",
        }),
      ],
    },
    responses: {
      200: {
        description: "the codes (and what `include` asks for)",
        content: {
          "application/json": EncodeResponseSchema,
          "application/x-npz":
            ".npz of indices, values (padded with -1 / 0), reconstruction, error, and with " +
            "include=metrics metrics_l0, _mse, _fvu, _cosine and metrics_per_row_l0, _mse, _cosine",
        },
        headers: {
          "X-Saeserve-Backend": "the backend that computed it",
          "X-Saeserve-Metrics":
            "with an .npz answer and include=metrics: {l0, mse, fvu, cosine} as JSON (per-row values are the .npz's metrics_per_row_* members)",
        },
      },
      ...DICTIONARY_POST_ERRORS,
    },
    examples: [
      {
        name: "topk",
        summary: "two rows, top 4 latents, with metrics",
        params: { id: DEMO.topk },
        body: { activations: demoRows(2), top: 4, include: ["metrics"] },
      },
      {
        name: "jumprelu",
        summary: "a Gemma Scope dictionary with its reconstruction",
        params: { id: DEMO.jumprelu },
        body: { activations: demoRows(1), include: ["reconstruction", "metrics"] },
      },
      {
        name: "vision",
        summary: "two images of 1 + 4 x 4 tokens, with feature maps",
        params: { id: DEMO.topk },
        body: { activations: vision, grid: [4, 4], skip_tokens: 1, maps_top: 2 },
      },
    ],
    handler: async (c) => {
      const req = await activationsRequest(c, {
        maxBodyBytes: deps.maxBodyBytes,
        listKeys: ["include"],
        jsonKeys: ["grid", "map_features"],
      });
      c.set("rows", req.x.rows);
      const options = validate(EncodeOptionsSchema, req.options, { where: "option" });
      requireGrid(req.options, { names: ["skip_tokens", "maps_top", "map_features"] });
      const include = new Set<EncodeInclude>(options.include ?? []);
      if (options.grid && wantsNpz(c)) {
        // Never dropped silently: feature maps have no .npz form.
        throw new SaeError("invalid", "grid feature maps are answered in JSON only, not .npz");
      }
      const compute = pick(c);
      let answer = { otherBytes: 0, binary: wantsNpz(c) };
      const result = await withLease(deps, pathParam(c, "id"), (lease) => {
        refuseQueryOptions(c, req.form);
        // Cost first: top <= d_sae, map_features deduplicated, work and answer within budget.
        const cost = checkEncode(limitsOf(deps), lease.description, {
          rows: req.x.rows,
          options,
          ...answer,
        });
        options.map_features = cost.mapFeatures;
        answer = { ...answer, otherBytes: cost.otherBytes };
        return encodeRows({ backend: compute, prepared: lease.prepared }, req.x, {
          top: options.top,
          include,
          signal: requestSignal(c),
        });
      });
      checkCodesAnswer(limitsOf(deps), result.codes, answer);
      const backend = compute.name; // after computing: a failover may have moved the work
      if (result.reconstruction) {
        expectFiniteResult(result.reconstruction.data, "the reconstruction");
      }
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
        if (result.metrics) {
          Object.assign(arrays, metricsArrays(result.metrics));
          // The aggregates only: the per-row values are members above, and a header that grew
          // with the rows (~40 bytes each) would pass clients' and proxies' header limits.
          const { l0, mse, fvu, cosine } = result.metrics;
          c.header("X-Saeserve-Metrics", JSON.stringify({ l0, mse, fvu, cosine }));
        }
        return await npzResponse(c, arrays, { backend });
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
    },
  }, {
    method: "post",
    path: "/v1/dictionaries/:id/decode",
    tag: "compute",
    summary: "Decode latents into activations",
    description: "Sparse codes (indices and values per row) or dense codes [rows, d_sae].",
    request: { params: ID_PARAM, json: DecodeRequestSchema, binary: NPY_BODY },
    responses: { 200: ACTIVATIONS_ANSWER, ...DICTIONARY_POST_ERRORS },
    examples: [
      {
        name: "sparse",
        params: { id: DEMO.topk },
        body: { indices: [[0, 17], [80]], values: [[1.5, 0.5], [2]] },
      },
      {
        name: "dense",
        params: { id: DEMO.sparsify },
        body: {
          codes: [Array.from({ length: DEMO.dSae }, (_, i) => (i % 64 === 3 ? 1 : 0))],
        },
      },
    ],
    handler: async (c) => {
      const form = requestForm(c);
      const bytes = await readBody(c, deps.maxBodyBytes);
      let codes: SparseRows | Matrix;
      if (form === "npy") {
        codes = npyMatrix(bytes, "codes");
      } else {
        const object = parseJsonObject(bytes);
        const dense = "codes" in object;
        if (dense === ("indices" in object || "values" in object)) {
          throw new SaeError(
            "malformed",
            dense
              ? "send either {indices, values} (sparse) or {codes} (dense), not both"
              : "decode takes {indices, values} (sparse codes) or {codes} (dense rows)",
          );
        }
        if (dense) {
          codes = jsonMatrix(validate(DecodeDenseSchema, object, { where: "body" }).codes, "codes");
        } else {
          const body = validate(DecodeSparseSchema, object, { where: "body" });
          codes = jsonSparse(body.indices, body.values, { width: 0 });
        }
      }
      const compute = pick(c);
      const y = await withLease(deps, pathParam(c, "id"), (lease) => {
        if (form === "npy") expectQuery(c, []); // decode takes no options
        else refuseQueryOptions(c, form);
        const rows = "data" in codes ? codes.rows : codes.indices.length;
        const nonZeros = "data" in codes
          ? undefined
          : codes.indices.reduce((n, ix) => n + ix.length, 0);
        checkDecode(limitsOf(deps), lease.description, {
          rows,
          nonZeros,
          binary: wantsNpy(c, form),
        });
        return decodeRows({ backend: compute, prepared: lease.prepared }, codes, {
          signal: requestSignal(c),
        });
      });
      return await activationsResponse(c, y, {
        form,
        backend: compute.name,
        jobs: deps.jobs,
        signal: requestSignal(c),
      });
    },
  }, {
    method: "post",
    path: "/v1/dictionaries/:id/steer",
    tag: "compute",
    summary: "Steer activations (error-preserving)",
    description: "Interventions edit the codes of one encode in the order given; one decoded " +
      "difference is added to the input (api.md).",
    request: {
      params: ID_PARAM,
      json: SteerRequestSchema,
      binary: NPY_BODY,
      query: [
        query("interventions", { description: "URL-encoded JSON list of interventions" }),
        query("grid", {
          description: "vision: URL-encoded JSON [h, w] for interventions' patches",
        }),
        query("skip_tokens", { description: "vision: leading tokens per image", type: "integer" }),
      ],
    },
    responses: { 200: ACTIVATIONS_ANSWER, ...DICTIONARY_POST_ERRORS },
    examples: [{
      name: "add and clamp",
      params: { id: DEMO.topk },
      body: {
        activations: demoRows(2),
        interventions: [
          { feature: 17, mode: "add", value: 2 },
          { feature: 80, mode: "clamp", value: 0, positions: [1] },
        ],
      },
    }],
    handler: async (c) => {
      const req = await activationsRequest(c, {
        maxBodyBytes: deps.maxBodyBytes,
        jsonKeys: ["interventions", "grid"],
      });
      c.set("rows", req.x.rows);
      const options = validate(SteerOptionsSchema, req.options, { where: "option" });
      requireGrid(req.options, { names: ["skip_tokens"] });
      const compute = pick(c);
      const requested = withPatchPositions(options, req.x.rows);
      const id = pathParam(c, "id");
      const y = await withLease(deps, id, (lease) => {
        refuseQueryOptions(c, req.form);
        checkSteerable(lease.description, id); // 422 for a transcoder
        // Positions deduplicated and < rows; the steering work and the answer within budget.
        const interventions = checkSteer(limitsOf(deps), lease.description, {
          rows: req.x.rows,
          interventions: requested,
          binary: wantsNpy(c, req.form),
        });
        return steerRows({ backend: compute, prepared: lease.prepared }, req.x, {
          interventions,
          signal: requestSignal(c),
        });
      });
      return await activationsResponse(c, y, {
        form: req.form,
        backend: compute.name,
        jobs: deps.jobs,
        signal: requestSignal(c),
      });
    },
  }];
}
