/**
 * Numeric matrices read from request bodies, checked fast: JSON rows of numbers, JSON sparse
 * codes and .npy arrays; wrong structure is a 400, values no computation can use (NaN,
 * infinity, beyond f32) a 422 naming the element.
 * @module
 */

import { SaeError } from "../domain/errors.ts";
import { type Matrix, matrix, type SparseRows } from "../domain/sae/matrix.ts";
import { decodeNpy, parseNpyHeader } from "../domain/io/npy.ts";

/**
 * A JSON rows x columns array of numbers as a matrix. Wrong structure is a 400; ragged rows,
 * no rows, non-finite numbers (1e999 parses to Infinity) and numbers f32 cannot hold (1e39:
 * reported as an overflow) are a 422.
 */
export function jsonMatrix(value: unknown, what: string): Matrix {
  if (!Array.isArray(value)) throw new SaeError("malformed", `${what} must be an array of rows`);
  if (value.length === 0) throw new SaeError("invalid", `${what} has no rows`);
  const first = value[0];
  if (typeof first === "number") {
    throw new SaeError(
      "malformed",
      `${what} must be rows (an array of arrays of numbers), got one flat array: ` +
        `send one row as [[...]]`,
    );
  }
  if (!Array.isArray(first)) {
    throw new SaeError("malformed", `${what}[0] must be an array of numbers`);
  }
  const cols = first.length;
  if (cols === 0) throw new SaeError("invalid", `${what} rows are empty`);
  const m = matrix([value.length, cols]);
  for (let r = 0; r < value.length; r++) {
    const row = value[r];
    if (!Array.isArray(row)) {
      throw new SaeError("malformed", `${what}[${r}] must be an array of numbers`);
    }
    if (row.length !== cols) {
      throw new SaeError(
        "invalid",
        `${what} is ragged: row ${r} has ${row.length} values, row 0 has ${cols}`,
      );
    }
    for (let c = 0; c < cols; c++) {
      const v = row[c];
      if (typeof v !== "number") {
        throw new SaeError("malformed", `${what}[${r}][${c}] is not a number`);
      }
      // JSON has no NaN or infinity: a non-finite number here was a literal beyond f64 (1e400).
      if (!Number.isFinite(Math.fround(v))) throw overflow(`${what}[${r}][${c}]`, v);
      m.data[r * cols + c] = v;
    }
  }
  return checkFinite(m, what);
}

/** 422 for a number that f32, the type every computation uses, cannot hold. */
function overflow(where: string, v: number): SaeError {
  const shown = Number.isFinite(v) ? `${v}` : "a literal beyond f64's range (it reads as infinity)";
  return new SaeError(
    "invalid",
    `${where} is ${shown}, which overflows f32 (largest magnitude about 3.4e38); scale the inputs down`,
  );
}

/** 422 unless every value is finite: NaN, and infinity (in an .npy body), are named as such. */
export function checkFinite(m: Matrix, what: string): Matrix {
  for (let i = 0; i < m.data.length; i++) {
    const v = m.data[i];
    if (!Number.isFinite(v)) {
      const r = Math.floor(i / m.cols);
      const where = `${what}[${r}][${i - r * m.cols}]`;
      throw new SaeError("invalid", `${where} is ${Number.isNaN(v) ? "NaN" : "infinite"}`);
    }
  }
  return m;
}

/** Sparse codes from JSON indices/values, checked for shape. */
export function jsonSparse(
  indices: number[][],
  values: number[][],
  options: { width: number },
): SparseRows {
  const { width } = options;
  if (indices.length !== values.length) {
    throw new SaeError(
      "invalid",
      `indices has ${indices.length} rows but values has ${values.length}`,
    );
  }
  const rows = indices.map((ix, r) => {
    const v = values[r];
    if (ix.length !== v.length) {
      throw new SaeError("invalid", `row ${r}: ${ix.length} indices but ${v.length} values`);
    }
    // Int32Array.from would wrap 2^32 to 0: refuse what cannot be a feature index. Index -1
    // with value 0 is padding, as encode's .npz answers pad short rows: skipped.
    const outside = ix.findIndex((i, j) => (i < 0 || i > 0x7fffffff) && !(i === -1 && v[j] === 0));
    if (outside >= 0) {
      throw new SaeError(
        "invalid",
        `row ${r}: feature index ${ix[outside]} is out of range` +
          (ix[outside] === -1 ? " (-1 is padding only with value 0)" : ""),
      );
    }
    if (!v.every((e) => typeof e === "number")) {
      throw new SaeError("malformed", `values[${r}] must hold numbers`);
    }
    // JSON has no infinity either: a non-finite value was a literal beyond f64 (1e400).
    const big = v.findIndex((e) => !Number.isFinite(Math.fround(e)));
    if (big >= 0) throw overflow(`values[${r}][${big}]`, v[big]);
    const kept = ix.includes(-1) ? ix.flatMap((i, j) => (i === -1 ? [] : [j])) : null;
    const out = Float32Array.from(kept ? kept.map((j) => v[j]) : v);
    if (out.some((e) => !Number.isFinite(e))) {
      throw new SaeError("invalid", `values[${r}] has a non-finite value`);
    }
    return { indices: Int32Array.from(kept ? kept.map((j) => ix[j]) : ix), values: out };
  });
  return {
    width,
    indices: rows.map((row) => row.indices),
    values: rows.map((row) => row.values),
  };
}

/** An .npy body [rows, cols] (or one 1-D row) as a checked matrix. */
export function npyMatrix(bytes: Uint8Array, what: string): Matrix {
  const tensor = decodeNpy(bytes, { maxBytes: bytes.byteLength });
  const shape = tensor.shape.length === 1 ? [1, tensor.shape[0]] : tensor.shape;
  if (shape.length !== 2) {
    throw new SaeError(
      "invalid",
      `${what} must be a 2-D array [rows, columns], got shape (${tensor.shape})`,
    );
  }
  if (shape[0] === 0 || shape[1] === 0) {
    throw new SaeError("invalid", `${what} is empty: shape (${tensor.shape})`);
  }
  const m = matrix([shape[0], shape[1]], tensor.data);
  wideOverflow(bytes, { m, what });
  return checkFinite(m, what);
}

/**
 * 422 naming the value when a float64 body holds a finite number beyond f32's range (it became
 * infinite in conversion), as a JSON body's number would be named.
 */
function wideOverflow(bytes: Uint8Array, options: { m: Matrix; what: string }): void {
  const { m, what } = options;
  const i = m.data.findIndex((v) => v === Infinity || v === -Infinity);
  if (i < 0) return;
  const header = parseNpyHeader(bytes);
  if (header.dtype !== "F64" || header.fortranOrder) return;
  const view = new DataView(bytes.buffer, bytes.byteOffset + header.dataOffset);
  const v = view.getFloat64(i * 8, header.littleEndian);
  const r = Math.floor(i / m.cols);
  if (Number.isFinite(v)) throw overflow(`${what}[${r}][${i - r * m.cols}]`, v);
}
