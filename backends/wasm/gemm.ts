/**
 * The GEMM kernel calls: dense C = A @ B over column ranges split between the workers, and the
 * fused encode (bias, activation and per-row selection inside the GEMM, then the workers'
 * selections merged and sorted per row, also by the workers).
 * @module
 */

import { type Matrix, matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import { type Packed, pad8 } from "./pack.ts";
import { ACT, MERGE, OP, P, TN } from "./params.ts";
import { blockRows, splitByWork, splitColumns } from "./rounds.ts";
import {
  type CallContext,
  MAX_BLOCK_BYTES,
  MAX_BLOCK_ROWS,
  MERGE_AFTER_MAX,
  parallelParts,
  type ParamBlock,
  paramBlock,
  runToEnd,
} from "./ops.ts";

/** Rows per block of a GEMM (the weights are streamed once per block), within the scratch bound. */
function gemmRows(rows: number, rowBytes: number): number {
  return blockRows(rows, { rowBytes, maxRows: MAX_BLOCK_ROWS, maxBytes: MAX_BLOCK_BYTES });
}

/**
 * Rows between two checkpoints inside a GEMM tile (TN columns of each row): within the
 * checkpoint work, a multiple of 6 (the widest row kernel) when there is room for one.
 */
export function checkpointRows(ctx: CallContext, K: number): number {
  const rows = Math.floor(ctx.checkpointWork / Math.max(1, K * TN));
  return rows >= 6 ? rows - (rows % 6) : Math.max(1, rows);
}

/** Options of {@link gemm}. */
export interface GemmOptions {
  /** B as panels or a row-major matrix whose rows are padded to 8. */
  readonly b: Packed;
  /** Real columns of B. */
  readonly n: number;
  /** B's stored precision (a `PREC` code). */
  readonly prec: number;
}

/** Dense C [m, n] = A [m, k] @ B. */
export async function gemm(ctx: CallContext, a: Matrix, options: GemmOptions): Promise<Matrix> {
  const { b, n } = options;
  if (b.columnMajor) throw new RangeError("the GEMM cannot read column-major panels");
  const K = a.cols;
  const out = matrix([a.rows, n]);
  if (a.rows === 0 || n === 0 || K === 0) return out;
  const npad = pad8(n);
  const cols = splitColumns(n, parallelParts(ctx, { work: a.rows * K * n, n }));
  const rows = gemmRows(a.rows, (K + npad) * 4);
  const aPtr = ctx.alloc(rows * K * 4);
  const cPtr = ctx.alloc(rows * npad * 4);
  const ranges = cols.map(([n0, n1]) => {
    const block = paramBlock(ctx, P, { op: OP.gemm });
    block.set({
      A: aPtr,
      LDA: K,
      B: b.ptr,
      K,
      LDB: b.ldb,
      PSTRIDE: b.panelStride,
      PREC: options.prec,
      RB: checkpointRows(ctx, K),
      ACT: ACT.dense,
      C: cPtr,
      LDC: npad,
      NREAL: n,
    });
    return { n0, n1, block };
  });
  for (let r0 = 0; r0 < a.rows; r0 += rows) {
    const m = Math.min(rows, a.rows - r0);
    ctx.heap.f32(aPtr, m * K).set(a.data.subarray(r0 * K, (r0 + m) * K));
    const jobs = ranges.map((r) => r.block.set({ M: m, N0: r.n0, N1: r.n1, R0: 0 }));
    await runToEnd(ctx, jobs);
    const c = ctx.heap.f32(cPtr, m * npad);
    for (let r = 0; r < m; r++) out.data.set(c.subarray(r * npad, r * npad + n), (r0 + r) * n);
  }
  return out;
}

/** Options of {@link encodeFused}. */
export interface EncodeFusedOptions {
  /** The encoder as panels. */
  readonly encoder: Packed;
  /** Latents. */
  readonly dSae: number;
  /** Stored precision (a `PREC` code). */
  readonly prec: number;
  /** Activation code (an `ACT` code). */
  readonly act: number;
  /** Keep at most this many per row (0: every survivor). */
  readonly cap: number;
  /** Activation vectors (addresses; 0 when unused). */
  readonly bias: number;
  readonly thr: number;
  readonly bmag: number;
}

/**
 * Fused encode: bias, activation and selection per row over each worker's columns, then the
 * workers' selections merged and sorted per row (also by the workers).
 */
export async function encodeFused(
  ctx: CallContext,
  s: Matrix,
  options: EncodeFusedOptions,
): Promise<SparseRows> {
  const { dSae: n, cap } = options;
  if (options.encoder.columnMajor) {
    throw new RangeError("the fused encode cannot read column-major panels");
  }
  const K = s.cols;
  const indices: Int32Array[] = [];
  const values: Float32Array[] = [];
  if (s.rows === 0) return { width: n, indices, values };
  const cols = splitColumns(n, parallelParts(ctx, { work: s.rows * K * n, n }));
  const strides = cols.map(([n0, n1]) => (cap > 0 ? Math.min(cap, n1 - n0) : n1 - n0));
  const candidates = strides.reduce((t, x) => t + x, 0);
  const kept = cap > 0 ? Math.min(cap, candidates) : candidates;
  const rowBytes = K * 4 + cols.length * TN * 4 + 8 * (candidates + kept) +
    4 * (cols.length + 1);
  const rows = gemmRows(s.rows, rowBytes);
  const aPtr = ctx.alloc(rows * K * 4);
  const outs = cols.map(([n0, n1], t) => {
    const stride = strides[t];
    const vals = ctx.alloc(rows * stride * 4);
    const idx = ctx.alloc(rows * stride * 4);
    const cnt = ctx.alloc(rows * 4);
    const block = paramBlock(ctx, P, { op: OP.gemm });
    block.set({
      A: aPtr,
      LDA: K,
      B: options.encoder.ptr,
      K,
      LDB: options.encoder.ldb,
      PSTRIDE: options.encoder.panelStride,
      PREC: options.prec,
      RB: checkpointRows(ctx, K),
      ACT: options.act,
      BIAS: options.bias,
      THR: options.thr,
      BMAG: options.bmag,
      CAP: cap > 0 ? stride : 0,
      OVAL: vals,
      OIDX: idx,
      OCNT: cnt,
      SCRATCH: ctx.alloc(rows * TN * 4),
      OSTRIDE: stride,
      NREAL: n,
    });
    return { n0, n1, block, vals, idx, cnt, stride };
  });
  const merged = mergeBuffers(ctx, outs, { rows, kept, cap });
  for (let r0 = 0; r0 < s.rows; r0 += rows) {
    const m = Math.min(rows, s.rows - r0);
    ctx.heap.f32(aPtr, m * K).set(s.data.subarray(r0 * K, (r0 + m) * K));
    for (const o of outs) ctx.heap.i32(o.cnt, m).fill(0);
    const jobs = outs.map((o) => o.block.set({ M: m, N0: o.n0, N1: o.n1, R0: 0, PHASE: 0 }));
    if (m * candidates <= MERGE_AFTER_MAX) {
      // A small merge: the last worker of the encode round does it.
      await runToEnd(ctx, jobs, { then: merged.blocks[0].set({ R0: 0, R1: m }) });
    } else {
      await runToEnd(ctx, jobs);
      const ranges = splitByWork(new Float64Array(m).fill(candidates), ctx.threads);
      await runToEnd(
        ctx,
        ranges.map(([a, b], t) => merged.blocks[t].set({ R0: a, R1: b })),
      );
    }
    const counts = ctx.heap.i32(merged.cnt, m);
    for (let r = 0; r < m; r++) {
      const at = r * kept * 4;
      indices.push(ctx.heap.i32(merged.idx + at, counts[r]).slice());
      values.push(ctx.heap.f32(merged.vals + at, counts[r]).slice());
    }
  }
  return { width: n, indices, values };
}

/** Buffers and parameter blocks of the merge of per-part selections (`kept` per row). */
export function mergeBuffers(
  ctx: CallContext,
  parts: readonly { vals: number; idx: number; cnt: number; stride: number }[],
  options: { rows: number; kept: number; cap: number },
): { vals: number; idx: number; cnt: number; blocks: ParamBlock<typeof MERGE>[] } {
  const { rows, kept } = options;
  const desc = ctx.alloc(parts.length * 16);
  const d = ctx.heap.i32(desc, parts.length * 4);
  parts.forEach((o, t) => d.set([o.vals, o.idx, o.cnt, o.stride * 4], t * 4));
  const vals = ctx.alloc(rows * kept * 4);
  const idx = ctx.alloc(rows * kept * 4);
  const cnt = ctx.alloc(rows * 4);
  const blocks = Array.from({ length: ctx.threads }, () => {
    const block = paramBlock(ctx, MERGE, { op: OP.merge });
    block.set({
      DESC: desc,
      PARTS: parts.length,
      CAP: options.cap > 0 ? kept : 0,
      OVAL: vals,
      OIDX: idx,
      OCNT: cnt,
      OSTRIDE: kept,
    });
    return block;
  });
  return { vals, idx, cnt, blocks };
}
