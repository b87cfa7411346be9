/**
 * Checked tensor access shared by the format loaders: expected shapes, finite values, and
 * safetensors tensors streamed straight into their final (optionally transposed) layout.
 * @module
 */

import type { ByteSource } from "../io/byte_source.ts";
import { isDType, streamToF32 } from "../io/dtype.ts";
import { FormatError } from "../errors.ts";
import type { SafetensorsHeader } from "../io/safetensors.ts";
import { type Matrix, matrix } from "../sae/matrix.ts";
import { elementCount, type Tensor } from "../sae/tensor.ts";

/** Throw unless `tensor` has exactly `shape`. */
export function expectShape(
  tensor: Tensor,
  shape: readonly number[],
  options: { what: string },
): void {
  const { what } = options;
  const ok = tensor.shape.length === shape.length && tensor.shape.every((d, i) => d === shape[i]);
  if (!ok) {
    throw new FormatError(what, `shape [${tensor.shape}] where [${shape}] was expected`);
  }
}

/** Throw unless every value is finite (a NaN weight would poison every answer). */
export function expectFinite(data: Float32Array, what: string): Float32Array {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new FormatError(what, `non-finite value at element ${i}`);
  }
  return data;
}

/** A 2-D tensor as a matrix, checking its shape. */
export function asMatrix(
  tensor: Tensor,
  shape: { rows: number; cols: number; what: string },
): Matrix {
  const { rows, cols, what } = shape;
  expectShape(tensor, [rows, cols], { what });
  return matrix([rows, cols], expectFinite(tensor.data, what));
}

/** A 1-D tensor of length n (a [1, n] or [n, 1] tensor is accepted too). */
export function asVector(tensor: Tensor, n: number, options: { what: string }): Float32Array {
  const { what } = options;
  if (elementCount(tensor.shape) !== n || tensor.shape.filter((d) => d !== 1).length > 1) {
    throw new FormatError(what, `shape [${tensor.shape}] where [${n}] was expected`);
  }
  return expectFinite(tensor.data, what);
}

/**
 * Stream one safetensors tensor of shape [rows, cols] into a row-major matrix. With
 * `transpose`, the stored tensor is [cols, rows] (nn.Linear layout) and is transposed while
 * streaming, so no second full copy ever exists.
 */
export async function loadSafetensorsMatrix(
  source: ByteSource,
  header: SafetensorsHeader,
  options: {
    name: string;
    rows: number;
    cols: number;
    transpose?: boolean;
    alloc?: (length: number) => Float32Array;
  },
): Promise<Matrix> {
  const { name, rows, cols } = options;
  const entry = header.tensors.get(name);
  if (!entry) throw new FormatError("safetensors", `missing tensor ${name}`);
  const stored = options.transpose ? [cols, rows] : [rows, cols];
  if (entry.shape.length !== 2 || entry.shape[0] !== stored[0] || entry.shape[1] !== stored[1]) {
    throw new FormatError(
      "safetensors",
      `${name} has shape [${entry.shape}], expected [${stored}]`,
    );
  }
  if (entry.dtype === "F32" && !options.transpose && source.readInto) {
    // The stored bytes are the final little-endian f32 values: read them straight in.
    const out = options.alloc?.(rows * cols) ?? new Float32Array(rows * cols);
    await source.readInto(entry.begin, new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
    return matrix([rows, cols], expectFinite(out, name));
  }
  if (!isDType(entry.dtype)) {
    throw new FormatError(
      "safetensors",
      `${name} has dtype ${entry.dtype}; only F32, F16, BF16, F64 load`,
      {
        kind: "invalid",
      },
    );
  }
  const data = await streamToF32(await source.stream(entry.begin, entry.end - entry.begin), {
    dtype: entry.dtype,
    littleEndian: true,
    count: rows * cols,
    // A C-order [cols, rows] array read as Fortran-order [rows, cols] is its transpose.
    fortran: options.transpose ? { rows, cols } : undefined,
    out: options.alloc?.(rows * cols),
  });
  return matrix([rows, cols], expectFinite(data, name));
}

/** Human name of a safetensors dtype as SAELens configs spell it. */
export function dtypeName(dtype: string): string {
  return ({ F32: "float32", F16: "float16", BF16: "bfloat16", F64: "float64" } as Record<
    string,
    string
  >)[
    dtype
  ] ?? dtype.toLowerCase();
}

/**
 * Run `load` for each named tensor in ascending file offset, so the file is read front to back
 * (one pass for a hashing source, sequential I/O for stores). Missing names are a FormatError.
 */
export async function loadInFileOrder<T>(
  header: SafetensorsHeader,
  names: readonly string[],
  options: { load: (name: string) => Promise<T> },
): Promise<Map<string, T>> {
  const { load } = options;
  for (const name of names) {
    if (!header.tensors.has(name)) throw new FormatError("safetensors", `missing tensor ${name}`);
  }
  const ordered = [...names].sort((a, b) =>
    header.tensors.get(a)!.begin - header.tensors.get(b)!.begin
  );
  const out = new Map<string, T>();
  for (const name of ordered) out.set(name, await load(name));
  return out;
}
