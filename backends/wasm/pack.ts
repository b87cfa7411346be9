/**
 * Weight layouts the kernels stream: the encoder in panels of 8 columns (K-major inside a
 * panel), the decoder row-major with rows padded to a multiple of 8, each in f32, bf16 or f16.
 * The backend builds them in place at load (wasm/ops.ts: block transpose, compaction).
 * @module
 */

import type { Matrix } from "../../domain/sae/matrix.ts";
import type { Precision } from "../../domain/precision.ts";
import type { SharedHeap } from "./heap.ts";

/** Bytes per element of the streamed encoder and decoder (int8 streams f32 copies too). */
export function precisionBytes(precision: Precision): number {
  return precision === "f32" || precision === "int8" ? 4 : 2;
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
  /**
   * f32 panels made column-major (each panel's 8 columns of K floats): the layout the int8
   * encode rescores from; the GEMM kernels cannot read it.
   */
  readonly columnMajor?: boolean;
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

/** Copy a matrix into the kernels' memory at `options.ptr`, rows padded with zeros to `options.ld` floats. */
export function copyPadded(
  heap: SharedHeap,
  m: Matrix,
  options: { ptr: number; ld: number },
): void {
  const dst = heap.f32(options.ptr, m.rows * options.ld);
  if (options.ld === m.cols) {
    dst.set(m.data);
    return;
  }
  for (let r = 0; r < m.rows; r++) {
    dst.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), r * options.ld);
    dst.fill(0, r * options.ld + m.cols, (r + 1) * options.ld);
  }
}
