/**
 * Weight layouts the kernels stream, built once at load: the encoder in panels of 8 columns
 * (K-major inside a panel), the decoder row-major with rows padded to a multiple of 8, each in
 * f32, bf16 or f16.
 * @module
 */

import { f32ToBf16, f32ToF16 } from "../domain/dtype.ts";
import type { Matrix } from "../domain/matrix.ts";
import type { SharedHeap } from "./heap.ts";
import { PREC } from "./params.ts";

/** Stored precision of weights inside the kernels' memory. */
export type WeightPrecision = keyof typeof PREC;

/** Bytes per element. */
export function precisionBytes(precision: WeightPrecision): number {
  return precision === "f32" ? 4 : 2;
}

/** Round up to a multiple of 8. */
export function pad8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** A matrix in the kernels' memory. */
export interface Packed {
  /** Byte address. */
  readonly ptr: number;
  /** Bytes allocated. */
  readonly bytes: number;
  /** Bytes between consecutive k (rows of B) inside a panel. */
  readonly ldb: number;
  /** Bytes between panels of 8 columns. */
  readonly panelStride: number;
}

function converter(precision: WeightPrecision): (v: number) => number {
  if (precision === "bf16") return f32ToBf16;
  if (precision === "f16") {
    return (v: number) => {
      if (Math.abs(v) > 65504) {
        throw new RangeError(`weight ${v} does not fit in f16; use bf16 or f32`);
      }
      return f32ToF16(v);
    };
  }
  return (v: number) => v;
}

/** Pack B [K, N] (row-major) into panels of 8 columns, zero-padded to a multiple of 8. */
export function packPanels(heap: SharedHeap, b: Matrix, precision: WeightPrecision): Packed {
  const K = b.rows;
  const N = b.cols;
  const npad = pad8(N);
  const esize = precisionBytes(precision);
  const bytes = K * npad * esize;
  const ptr = heap.alloc(bytes);
  const out = precision === "f32" ? heap.f32(ptr, K * npad) : heap.u16(ptr, K * npad);
  const convert = converter(precision);
  out.fill(0);
  const src = b.data;
  for (let k = 0; k < K; k++) {
    const srcRow = k * N;
    for (let n = 0; n < N; n++) out[(n >> 3) * K * 8 + k * 8 + (n & 7)] = convert(src[srcRow + n]);
  }
  return { ptr, bytes, ldb: 8 * esize, panelStride: K * 8 * esize };
}

/** Copy B [K, N] row-major with rows padded to a multiple of 8 (a GEMM operand and axpy rows). */
export function packRows(heap: SharedHeap, b: Matrix, precision: WeightPrecision): Packed {
  const npad = pad8(b.cols);
  const esize = precisionBytes(precision);
  const bytes = b.rows * npad * esize;
  const ptr = heap.alloc(bytes);
  const out = precision === "f32" ? heap.f32(ptr, b.rows * npad) : heap.u16(ptr, b.rows * npad);
  const convert = converter(precision);
  if (npad !== b.cols) out.fill(0);
  for (let r = 0; r < b.rows; r++) {
    if (precision === "f32" && npad === b.cols) {
      (out as Float32Array).set(b.data.subarray(r * b.cols, (r + 1) * b.cols), r * npad);
      continue;
    }
    for (let c = 0; c < b.cols; c++) out[r * npad + c] = convert(b.data[r * b.cols + c]);
  }
  return { ptr, bytes, ldb: npad * esize, panelStride: 8 * esize };
}

/** Copy an f32 vector, zero-padded to a multiple of 8. */
export function packVector(heap: SharedHeap, v: Float32Array): number {
  const n = pad8(v.length);
  const ptr = heap.alloc(n * 4);
  const out = heap.f32(ptr, n);
  out.fill(0);
  out.set(v);
  return ptr;
}
