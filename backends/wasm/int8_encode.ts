/**
 * The int8 fused encode (`SAESERVE_WEIGHTS=int8`): per block of rows, round one has each part
 * (a column range, one per worker) quantize the rows, run the int8 GEMM and keep its best
 * candidates by the int8 estimate; round two cuts them to the best {@link int8Candidates} of
 * each row over all parts, rescores those exactly in f32 (values equal the f32 encode's) and
 * merges the survivors into sorted rows (wasm/assembly/int8.ts, int8_rescore.ts). A small block
 * (a few rows) skips round two: the last worker through round one finishes it alone.
 * @module
 */

import { type Matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import { int8Candidates, type Int8Encoder } from "./int8.ts";
import type { Packed } from "./pack.ts";
import { I8, I8_FINISH, OP, P, PREC, TN } from "./params.ts";
import { checkpointRows, mergeBuffers } from "./gemm.ts";
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

/**
 * Up to this many candidates to rescore in a block, the last worker of the first round cuts,
 * rescores and merges them alone: cheaper than waking the workers for a second round.
 */
const FINISH_ALONE_MAX = 512;

/** Options of {@link encodeInt8}. */
export interface Int8EncodeOptions {
  /** The encoder's f32 panels (the exact rescoring reads them). */
  readonly encoder: Packed;
  /** Its int8 copy (the candidates come from it). */
  readonly int8: Int8Encoder;
  /** Latents. */
  readonly dSae: number;
  /** Activation code (an `ACT` code other than dense). */
  readonly act: number;
  /** Keep at most this many per row (0: every survivor). */
  readonly cap: number;
  /** Activation vectors (addresses; 0 when unused). */
  readonly bias: number;
  readonly thr: number;
  readonly bmag: number;
}

/** One part's column range, parameter block and lists. */
interface Part {
  readonly n0: number;
  readonly n1: number;
  readonly block: ParamBlock<typeof P>;
}

/** Rows' candidates selected with the int8 copy, rescored in f32, at most `cap` per row. */
export async function encodeInt8(
  ctx: CallContext,
  s: Matrix,
  options: Int8EncodeOptions,
): Promise<SparseRows> {
  const { dSae: n, cap, int8 } = options;
  if (!options.encoder.columnMajor) {
    throw new RangeError("the int8 encode needs column-major f32 panels");
  }
  const K = s.cols;
  const indices: Int32Array[] = [];
  const values: Float32Array[] = [];
  if (s.rows === 0) return { width: n, indices, values };
  const cols = splitColumns(n, parallelParts(ctx, { work: s.rows * K * n, n }));
  const cut = cap > 0 ? int8Candidates(cap) : 0;
  const strides = cols.map(([n0, n1]) => (cap > 0 ? Math.min(cut, n1 - n0) : n1 - n0));
  const candidates = strides.reduce((t, x) => t + x, 0);
  const kept = cap > 0 ? Math.min(cap, candidates) : candidates;
  // Per row: the f32 row, the merged row, and each part's quantized row, tile, counts and per
  // candidate its estimate, its survivor, its pair (row, column, slot) and exact values.
  const rowBytes = K * 4 + 8 * kept + 4 +
    strides.reduce((t, stride) => t + int8.kp + 16 + TN * 4 + 32 * stride + 12, 0);
  const rows = blockRows(s.rows, { rowBytes, maxRows: MAX_BLOCK_ROWS, maxBytes: MAX_BLOCK_BYTES });
  const aPtr = ctx.alloc(rows * K * 4);
  const est = descriptors(ctx, cols.length);
  const outs: { vals: number; idx: number; cnt: number; stride: number }[] = [];
  const parts: Part[] = cols.map(([n0, n1], t) => {
    const stride = strides[t];
    const lists = partLists(ctx, { rows, stride });
    const rescored = partLists(ctx, { rows, stride });
    est.set([lists.vals, lists.idx, lists.cnt, stride * 4], t * 4);
    outs.push({ ...rescored, stride });
    const aux = auxBlock(ctx, {
      A: ctx.alloc(rows * int8.kp),
      LDA: int8.kp,
      B: int8.panels,
      KP: int8.kp,
      COL: int8.columns,
      NPAD: int8.npad,
      ROW: ctx.alloc(rows * 16),
      PART: t,
      PARTS: cols.length,
      DESC: est.ptr,
      CUT: cut,
      C0: n0,
      C1: n1,
      OWN: ctx.alloc(rows * 4),
      PROW: ctx.alloc(rows * stride * 4),
      PCOL: ctx.alloc(rows * stride * 4),
      SLOT: ctx.alloc(rows * stride * 4),
      EXACT: ctx.alloc((rows * stride + 8) * 4),
      COUNTS: ctx.alloc((n1 - n0 + 1 + cols.length) * 4),
      GSTEP: Math.max(4, Math.floor(ctx.checkpointWork / (16 * K)) * 4),
      OVAL: rescored.vals,
      OIDX: rescored.idx,
      OCNT: rescored.cnt,
    });
    const block = paramBlock(ctx, P, { op: OP.gemm });
    block.set({
      A: aPtr,
      LDA: K,
      B: options.encoder.ptr,
      K,
      LDB: options.encoder.ldb,
      PSTRIDE: options.encoder.panelStride,
      PREC: PREC.int8,
      AUX: aux,
      RB: checkpointRows(ctx, K),
      ACT: options.act,
      BIAS: options.bias,
      THR: options.thr,
      BMAG: options.bmag,
      CAP: cap > 0 ? stride : 0,
      OVAL: lists.vals,
      OIDX: lists.idx,
      OCNT: lists.cnt,
      SCRATCH: ctx.alloc(rows * TN * 4),
      OSTRIDE: stride,
      NREAL: n,
    });
    return { n0, n1, block };
  });
  const merged = mergeBuffers(ctx, outs, { rows, kept, cap });
  const finish = paramBlock(ctx, I8_FINISH, { op: OP.i8Finish });
  const list = ctx.alloc(parts.length * 4);
  ctx.heap.i32(list, parts.length).set(parts.map((p) => p.block.pb));
  finish.set({ PARTS: parts.length, BLOCKS: list, MERGE: merged.blocks[0].pb });
  for (let r0 = 0; r0 < s.rows; r0 += rows) {
    const m = Math.min(rows, s.rows - r0);
    ctx.heap.f32(aPtr, m * K).set(s.data.subarray(r0 * K, (r0 + m) * K));
    const jobs = parts.map((p) => p.block.set({ M: m, N0: p.n0, N1: p.n1, R0: 0, PHASE: 0 }));
    merged.blocks[0].set({ R0: 0, R1: m });
    if (m * (cut || candidates) <= FINISH_ALONE_MAX) {
      // One round: the last worker through its selection finishes the block.
      await runToEnd(ctx, jobs, { then: finish.pb });
    } else if (m * candidates <= MERGE_AFTER_MAX) {
      // Two rounds: every part selects, then every part rescores; the last one merges.
      if (parts.length > 1) await runToEnd(ctx, jobs);
      await runToEnd(ctx, jobs, { then: merged.blocks[0].pb });
    } else {
      if (parts.length > 1) await runToEnd(ctx, jobs);
      await runToEnd(ctx, jobs);
      const ranges = splitByWork(new Float64Array(m).fill(candidates), ctx.threads);
      await runToEnd(ctx, ranges.map(([a, b], t) => merged.blocks[t].set({ R0: a, R1: b })));
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

/** A table of `parts` list descriptors (values, indices, counts, bytes between rows). */
function descriptors(
  ctx: CallContext,
  parts: number,
): { ptr: number; set(words: number[], at: number): void } {
  const ptr = ctx.alloc(parts * 16);
  return { ptr, set: (words, at) => ctx.heap.i32(ptr, parts * 4).set(words, at) };
}

/** Values, indices and counts for `rows` rows of `stride` entries. */
function partLists(
  ctx: CallContext,
  options: { rows: number; stride: number },
): { vals: number; idx: number; cnt: number } {
  const { rows, stride } = options;
  return {
    vals: ctx.alloc(rows * stride * 4),
    idx: ctx.alloc(rows * stride * 4),
    cnt: ctx.alloc(rows * 4),
  };
}

/** Words of an aux block. */
const I8_WORDS = Object.keys(I8).length;

/** An aux block with the given {@link I8} words (the others zero). */
function auxBlock(ctx: CallContext, words: Partial<Record<keyof typeof I8, number>>): number {
  const size = I8_WORDS;
  const ptr = ctx.alloc(size * 4);
  const view = ctx.heap.i32(ptr, size);
  view.fill(0);
  for (const key in words) view[I8[key as keyof typeof I8]] = words[key as keyof typeof I8]!;
  return ptr;
}
