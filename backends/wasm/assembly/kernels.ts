// saeserve WASM-SIMD kernels (AssemblyScript). Built by `deno task wasm` into
// wasm/build/kernels.wasm with SIMD, relaxed SIMD (fused multiply-add) and a shared, imported
// memory. No allocation, no globals, no data segments: the host owns the memory layout and
// passes pointers, so any number of instances (one per pool worker) share one memory safely.
// The host calls `run_job(pb)`: word P_OP of the parameter block picks the kernel. Kernels
// are resumable: at checkpoints (every tile, row or few thousand elements) they count word
// P_PROGRESS up and, if the word at P_STOP is non-zero (the pool wants the workers for live
// work, the call was aborted, or the pool gave up), record where they are in the parameter
// block and return 1; posting the same block again continues. 0 means finished.
//
// GEMM: C[m, n0:n1] = A[m, K] @ B[K, n0:n1], B stored in panels of 8 columns (f32, bf16 or
// f16). Element (k, j) of panel p lives at B + p * panelStride + k * ldb + (j % 8) * esize:
// packed panels (ldb = 8 * esize, panelStride = K * ldb) or a row-major matrix whose row
// length is a multiple of 8 (ldb = N * esize, panelStride = 8 * esize).
//
// Encode fuses bias, activation and top-k selection into the GEMM: columns are computed in
// tiles of TN into a small scratch C tile, then pushed into per-row bounded heaps (or lists),
// so the dense [rows, d_sae] pre-activation is never written out whole.
//
// Int8 encode (PREC_INT8, int8.ts): W_enc quantized per column at load (OP_QUANT_I8), candidates
// chosen by proven upper bounds from the relaxed 8-bit dot, then rescored exactly in f32.
//
// The kernels live in the modules imported below; this entry exports run_job and hang only.

import { axpyJob } from "./axpy";
import { encode } from "./encode";
import { finishJob, quantJob } from "./int8";
import {
  OP_AXPY,
  OP_COMPACT_BF16,
  OP_COMPACT_F16,
  OP_GEMM,
  OP_I8_FINISH,
  OP_MERGE,
  OP_QUANT_I8,
  OP_COLUMN_MAJOR,
  OP_TRANSPOSE_BLOCKS,
  OP_TRANSPOSE_F32,
  P_OP,
  param,
} from "./params";
import { columnMajor, compactJob, transposeF32, transposeStep } from "./relayout";
import { mergeJob } from "./select";
import { trainJob } from "./train";

/**
 * Run (or continue) the job whose parameter block is at `pb` (word P_OP picks the kernel).
 * Returns 0 when it is finished, 1 when it stopped early (post the block again to continue).
 * Compaction writes element i at byte 2i, over elements below i: the host runs ranges in
 * increasing order, and ranges in one round only when they start at or above half its end.
 */
export function run_job(pb: usize): i32 {
  const op = param(pb, P_OP);
  if (op == OP_GEMM) return encode(pb);
  if (op == OP_AXPY) return axpyJob(pb);
  if (op == OP_TRANSPOSE_BLOCKS) return transposeStep(pb);
  if (op == OP_COMPACT_BF16) return compactJob(pb, false);
  if (op == OP_COMPACT_F16) return compactJob(pb, true);
  if (op == OP_TRANSPOSE_F32) return transposeF32(pb);
  if (op == OP_MERGE) return mergeJob(pb);
  if (op == OP_QUANT_I8) return quantJob(pb);
  if (op == OP_COLUMN_MAJOR) return columnMajor(pb);
  if (op == OP_I8_FINISH) return finishJob(pb);
  if (op >= 40 && op < 60) return trainJob(pb, op);
  unreachable();
  return 0;
}

/**
 * Test hook for the pool's watchdog: a job that never finishes on its own. Spins until the
 * word at `flag` (the pool's cancel word) becomes non-zero.
 */
export function hang(flag: usize): void {
  while (atomic.load<i32>(flag) == 0) {
    // spin
  }
}
