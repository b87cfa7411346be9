/**
 * Weight layouts the kernels stream: the encoder in panels of 8 columns (K-major inside a
 * panel), the decoder row-major with rows padded to a multiple of 8, each in f32, bf16 or f16.
 * The backend builds them in place at load (wasm/ops.ts: block transpose, compaction).
 * @module
 */

import type { SharedHeap } from "./heap.ts";
import type { PREC } from "./params.ts";

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

/** Copy an f32 vector, zero-padded to a multiple of 8. */
export function packVector(heap: SharedHeap, v: Float32Array): number {
  const n = pad8(v.length);
  const ptr = heap.alloc(n * 4);
  const out = heap.f32(ptr, n);
  out.fill(0);
  out.set(v);
  return ptr;
}
