/**
 * Response serialization: JSON arrays or .npy for activations (the request's form, or what
 * Accept asks for), .npz for binary encode results, and the X-Saeserve-Backend header.
 * @module
 */

import type { Context } from "hono";
import { SaeError } from "../domain/errors.ts";
import type { Matrix, SparseRows } from "../domain/sae/matrix.ts";
import { encodeNpy } from "../domain/io/npy.ts";
import { encodeNpz } from "../domain/io/npz.ts";
import { NPY_TYPE, type RequestForm } from "./body.ts";
import { jsonText, typedNumbers } from "../domain/io/json_text.ts";
import type { JobRunner } from "../service/jobs/mod.ts";
import type { ReconstructionMetrics } from "../domain/sae/reconstruction_metrics.ts";

/** Header naming the backend that computed a response. */
export const BACKEND_HEADER = "X-Saeserve-Backend";

/** Media type of .npz bodies (binary encode results). */
export const NPZ_TYPE = "application/x-npz";

/** Whether the response should be .npy: the request was .npy or Accept asks for it. */
export function wantsNpy(c: Context, form: RequestForm): boolean {
  const accept = (c.req.header("accept") ?? "").toLowerCase();
  if (accept.includes(NPY_TYPE)) return true;
  if (accept.includes("application/json")) return false;
  return form === "npy";
}

/** Whether the client asked for an .npz encode result. */
export function wantsNpz(c: Context): boolean {
  return (c.req.header("accept") ?? "").toLowerCase().includes(NPZ_TYPE);
}

/** Rows of a matrix as views (written as nested lists by {@link jsonAnswer}). */
export function matrixRows(m: Matrix): Float32Array[] {
  const out: Float32Array[] = new Array(m.rows);
  for (let r = 0; r < m.rows; r++) out[r] = m.data.subarray(r * m.cols, (r + 1) * m.cols);
  return out;
}

/** Answers holding more numbers than this are written on a live job worker. */
const INLINE_JSON_NUMBERS = 1 << 16;

/**
 * A JSON answer whose typed arrays are written as lists. Small answers are written here; large
 * ones (hundreds of ms of JSON.stringify) on a live job worker, so the request thread stays free.
 */
export async function jsonAnswer(
  c: Context,
  value: Record<string, unknown>,
  options: { jobs: JobRunner; signal?: AbortSignal },
): Promise<Response> {
  const body = typedNumbers(value) <= INLINE_JSON_NUMBERS
    ? jsonText(value)
    : await options.jobs.run("json_text", { value }, { priority: "live", signal: options.signal });
  return c.body(body, 200, { "content-type": "application/json" });
}

/** Activations as `{"activations": [...]}` or an .npy body. */
export function activationsResponse(
  c: Context,
  m: Matrix,
  options: { form: RequestForm; backend: string; jobs: JobRunner; signal?: AbortSignal },
): Promise<Response> {
  expectFiniteResult(m.data, "the result");
  c.header(BACKEND_HEADER, options.backend);
  if (wantsNpy(c, options.form)) {
    return Promise.resolve(
      c.body(encodeNpy(m.data, [m.rows, m.cols]), 200, { "content-type": NPY_TYPE }),
    );
  }
  return jsonAnswer(c, { activations: matrixRows(m) }, options);
}

/**
 * 422 unless every computed value is finite: finite inputs near the f32 limit (1e38 and up)
 * can overflow, and such an answer must not go out as nulls.
 */
export function expectFiniteResult(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new SaeError(
        "invalid",
        `${what}: element ${i} overflows f32; scale the inputs or values down`,
      );
    }
  }
}

/** Sparse codes padded to a rectangle: indices -1 and values 0 where a row has fewer. */
export function paddedCodes(
  codes: SparseRows,
): { width: number; indices: Int32Array; values: Float32Array } {
  const width = codes.indices.reduce((w, ix) => Math.max(w, ix.length), 0);
  const rows = codes.indices.length;
  const indices = new Int32Array(rows * width).fill(-1);
  const values = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    indices.set(codes.indices[r], r * width);
    values.set(codes.values[r], r * width);
  }
  return { width, indices, values };
}

/** One array of an .npz answer. */
export type NpzMember = { shape: number[]; data: Float32Array | Int32Array };

/**
 * The metrics of an encode as .npz members named like the JSON answer's fields: scalars
 * `metrics_l0`, `metrics_mse`, `metrics_fvu` (NaN where the JSON has null) and
 * `metrics_cosine`, and per-row arrays `metrics_per_row_l0`, `_mse` and `_cosine` [rows].
 */
export function metricsArrays(metrics: ReconstructionMetrics): Record<string, NpzMember> {
  const scalar = (v: number | null): NpzMember => ({
    shape: [],
    data: Float32Array.of(v ?? NaN),
  });
  const perRow = (v: number[]): NpzMember => ({ shape: [v.length], data: Float32Array.from(v) });
  return {
    metrics_l0: scalar(metrics.l0),
    metrics_mse: scalar(metrics.mse),
    metrics_fvu: scalar(metrics.fvu),
    metrics_cosine: scalar(metrics.cosine),
    metrics_per_row_l0: perRow(metrics.per_row.l0),
    metrics_per_row_mse: perRow(metrics.per_row.mse),
    metrics_per_row_cosine: perRow(metrics.per_row.cosine),
  };
}

/** An .npz of named arrays. */
export async function npzResponse(
  c: Context,
  arrays: Record<string, { shape: number[]; data: Float32Array | Int32Array }>,
  options: { backend: string },
): Promise<Response> {
  c.header(BACKEND_HEADER, options.backend);
  return c.body(await encodeNpz(arrays), 200, { "content-type": NPZ_TYPE });
}
