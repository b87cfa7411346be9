/**
 * Encode, decode and steer a batch of activation rows with a loaded dictionary: the family
 * semantics (normalization, b_dec subtraction, skip connections) around the backend's kernels.
 * @module
 */

import type { Backend, CallOptions, Prepared } from "../../backends/backend.ts";
import { SaeError } from "../errors.ts";
import { type Matrix, matrix, type SparseRows } from "./matrix.ts";
import { normalizeIn, normalizeOut, rowStatistics } from "./normalization.ts";
import { type ReconstructionMetrics, reconstructionMetrics } from "./reconstruction_metrics.ts";

/** A dictionary prepared on a backend: what encode, decode and steer run on. */
export interface OnBackend {
  readonly backend: Backend;
  readonly prepared: Prepared;
}

/** Extra outputs an encode can return. */
export type EncodeInclude = "reconstruction" | "error" | "metrics";

/** Options for {@link encodeRows}. */
export interface EncodeRowsOptions extends CallOptions {
  /** Keep at most this many largest latents per row. */
  readonly top?: number;
  readonly include?: ReadonlySet<EncodeInclude>;
}

/** What {@link encodeRows} returns. */
export interface EncodeRowsResult {
  readonly codes: SparseRows;
  readonly reconstruction?: Matrix;
  readonly error?: Matrix;
  readonly metrics?: ReconstructionMetrics;
}

/** Throw a 422-kind error unless `x` is [rows, d_in]. */
export function expectWidth(x: Matrix, dIn: number): void {
  if (x.cols !== dIn) {
    throw new SaeError(
      "invalid",
      `activations have ${x.cols} columns; this dictionary has d_in = ${dIn}`,
    );
  }
}

/**
 * Throw a 422-kind error when a code is not finite: finite inputs near the f32 limit (1e38 and
 * up) can overflow, and every answer built on such codes (scores, statistics) would be wrong.
 */
function expectFiniteCodes(codes: SparseRows): void {
  codes.values.forEach((v, r) => {
    for (let j = 0; j < v.length; j++) {
      if (!Number.isFinite(v[j])) {
        const feature = codes.indices[r][j];
        throw new SaeError(
          "invalid",
          Number.isNaN(v[j])
            ? `the code of row ${r}, feature ${feature} is not a number: the inputs overflow f32 ` +
              "(scale them down) or the dictionary's weights are not finite"
            : `the codes of row ${r} overflow f32 (feature ${feature}); scale the inputs down`,
        );
      }
    }
  });
}

/** Keep the first `top` codes of each row (they are sorted by value). */
function truncate(codes: SparseRows, top: number): SparseRows {
  return {
    width: codes.width,
    indices: codes.indices.map((ix) => ix.subarray(0, Math.min(top, ix.length))),
    values: codes.values.map((v) => v.subarray(0, Math.min(top, v.length))),
  };
}

/** Decoded output y = f @ W_dec + b_dec (+ x @ W_skip^T), mapped back through normalization. */
async function reconstruct(
  { backend, prepared }: OnBackend,
  codes: SparseRows,
  options: { x: Matrix; stats: ReturnType<typeof rowStatistics>; call: CallOptions },
): Promise<Matrix> {
  const { x, stats, call } = options;
  const w = prepared.weights;
  const y = await backend.decodeSparse(prepared, codes, call);
  if (w.wSkip) {
    const skip = await backend.matmul(x, w.wSkip, { ...call, transposeB: true });
    for (let i = 0; i < y.data.length; i++) y.data[i] += skip.data[i];
  }
  return normalizeOut(stats, y);
}

/** Encode rows of raw activations x [rows, d_in]. */
export async function encodeRows(
  on: OnBackend,
  x: Matrix,
  options?: EncodeRowsOptions,
): Promise<EncodeRowsResult> {
  const { backend, prepared } = on;
  const w = prepared.weights;
  expectWidth(x, w.dIn);
  const include = options?.include ?? new Set();
  const stats = rowStatistics(w.normalization, x);
  const s = normalizeIn(stats, x, { preBias: w.preBias });
  const needFull = include.size > 0;
  const call: CallOptions = { priority: options?.priority, signal: options?.signal };
  // Reconstructions use every code; `top` only trims what is returned.
  const full = await backend.encode(prepared, s, needFull ? call : { ...call, top: options?.top });
  expectFiniteCodes(full);
  const codes = options?.top !== undefined && needFull ? truncate(full, options.top) : full;
  if (!needFull) return { codes };
  const reconstruction = await reconstruct(on, full, { x, stats, call });
  let error: Matrix | undefined;
  if (include.has("error")) {
    error = matrix([x.rows, x.cols]);
    for (let i = 0; i < x.data.length; i++) error.data[i] = x.data[i] - reconstruction.data[i];
  }
  return {
    codes,
    reconstruction: include.has("reconstruction") ? reconstruction : undefined,
    error,
    metrics: include.has("metrics")
      ? reconstructionMetrics(x, { reconstruction, codes: full })
      : undefined,
  };
}

/** Check sparse codes against the dictionary: matching lengths, indices in range, finite values. */
export function checkSparseCodes(codes: SparseRows, dSae: number): void {
  if (codes.indices.length !== codes.values.length) {
    throw new SaeError(
      "invalid",
      `indices has ${codes.indices.length} rows, values ${codes.values.length}`,
    );
  }
  for (let r = 0; r < codes.indices.length; r++) {
    const ix = codes.indices[r];
    const v = codes.values[r];
    if (ix.length !== v.length) {
      throw new SaeError("invalid", `row ${r}: ${ix.length} indices but ${v.length} values`);
    }
    for (let j = 0; j < ix.length; j++) {
      if (ix[j] < 0 || ix[j] >= dSae) {
        throw new SaeError("invalid", `row ${r}: feature index ${ix[j]} outside [0, ${dSae})`);
      }
      if (!Number.isFinite(v[j])) {
        throw new SaeError("invalid", `row ${r}: value ${v[j]} of feature ${ix[j]} is not finite`);
      }
    }
  }
}

/**
 * Decode codes to activations: y = f @ W_dec + b_dec. With no input rows there are no
 * normalization statistics and no skip input, so neither is applied.
 */
export async function decodeRows(
  { backend, prepared }: OnBackend,
  codes: SparseRows | Matrix,
  options?: CallOptions,
): Promise<Matrix> {
  const w = prepared.weights;
  if ("data" in codes) {
    if (codes.cols !== w.dSae) {
      throw new SaeError(
        "invalid",
        `codes have ${codes.cols} columns; this dictionary has d_sae = ${w.dSae}`,
      );
    }
    return await backend.decodeDense(prepared, codes, options);
  }
  checkSparseCodes(codes, w.dSae);
  return await backend.decodeSparse(prepared, codes, options);
}
