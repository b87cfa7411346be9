/**
 * The kernel calls of the WASM backend, run by the pool's workers: dense GEMM, fused encode,
 * sparse decoder sums, the in-place layout changes done at load, and an f32 transpose. Kernels
 * pass a checkpoint every `checkpointWork` multiply-adds or so (a GEMM: a group of rows of one
 * tile of TN columns); there they stop when the pool wants the workers for live work or the
 * call is aborted, and are posted again to continue (wasm/rounds.ts cuts the rest).
 * The calling thread only copies operands in and results out, between rounds.
 * @module
 */

import { type Matrix, matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import type { SharedHeap } from "./heap.ts";
import { type Packed, pad8 } from "./pack.ts";
import {
  ACT,
  AXPY,
  COMMON,
  COMPACT,
  MERGE,
  OP,
  P,
  PARAM_WORDS,
  TN,
  TRANSPOSE_BLOCKS,
  TRANSPOSE_F32,
  TRANSPOSE_STATE_BYTES,
} from "./params.ts";
import { blockRows, compactionRounds, splitByWork, splitColumns } from "./rounds.ts";

/** Below this much work (multiply-adds) a call uses one worker. */
const PARALLEL_MIN_WORK = 1 << 18;
/** Up to this many candidates in a block, the last worker of the encode round merges them. */
const MERGE_AFTER_MAX = 1 << 16;
/** Most rows per block of an encode or GEMM. */
const MAX_BLOCK_ROWS = 256;
/** Most scratch bytes per block. */
const MAX_BLOCK_BYTES = 64 << 20;

/** What one kernel call works with. */
export interface CallContext {
  /** The kernels' memory. */
  readonly heap: SharedHeap;
  /** Workers, hence jobs per round at most. */
  readonly threads: number;
  /** Work (multiply-adds) per worker between two checkpoints of a GEMM. */
  readonly checkpointWork: number;
  /**
   * Run one round of jobs (parameter-block addresses, 0 for none) and, once they all finished,
   * `then`; resolves to their results and `then`'s (-1: not run).
   */
  round(jobs: readonly number[], then?: number): Promise<Int32Array>;
  /** Allocate scratch, freed when the call ends. */
  alloc(bytes: number): number;
}

type Fields = Readonly<Record<string, number>>;

/** Allocate a parameter block for `op`. */
function paramBlock(ctx: CallContext, op: number): number {
  const pb = ctx.alloc(PARAM_WORDS * 4);
  const words = ctx.heap.i32(pb, PARAM_WORDS);
  words.fill(0);
  words[COMMON.OP] = op;
  return pb;
}

/** Set words of a parameter block (`layout` names the offsets). */
function setParams<L extends Fields>(
  ctx: CallContext,
  pb: number,
  layout: L,
  fields: Partial<Record<keyof L, number>>,
): number {
  const words = ctx.heap.i32(pb, PARAM_WORDS);
  for (const key in fields) words[layout[key]] = fields[key]!;
  return pb;
}

function parts(ctx: CallContext, work: number, n: number): number {
  return work < PARALLEL_MIN_WORK ? 1 : Math.min(ctx.threads, Math.ceil(n / 8));
}

/**
 * Post `jobs` until each has finished, then `then`: a job that stopped at a checkpoint (the
 * pool wanted the workers for live work) is posted again, after queueing for another turn.
 * `then` goes with the round, for the last worker to run, until it has run.
 */
async function runToEnd(ctx: CallContext, jobs: readonly number[], then = 0): Promise<void> {
  const busy = (list: readonly number[]) => list.some((job) => job !== 0);
  let pending = jobs;
  let follow = then;
  while (busy(pending) || follow !== 0) {
    if (!busy(pending)) {
      // Every job is done and the follow-up has not run (or stopped): run it as a job.
      pending = [follow];
      follow = 0;
    }
    const results = await ctx.round(pending, follow);
    const after = results[pending.length];
    pending = pending.map((job, i) => (job !== 0 && results[i] === 1 ? job : 0));
    if (after === 0) follow = 0;
  }
}

/** Rows per block of a GEMM (the weights are streamed once per block), within the scratch bound. */
function gemmRows(rows: number, rowBytes: number): number {
  return blockRows(rows, { rowBytes, maxRows: MAX_BLOCK_ROWS, maxBytes: MAX_BLOCK_BYTES });
}

/**
 * Rows between two checkpoints inside a GEMM tile (TN columns of each row): within the
 * checkpoint work, a multiple of 6 (the widest row kernel) when there is room for one.
 */
function checkpointRows(ctx: CallContext, K: number): number {
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
  const K = a.cols;
  const out = matrix(a.rows, n);
  if (a.rows === 0 || n === 0 || K === 0) return out;
  const npad = pad8(n);
  const cols = splitColumns(n, parts(ctx, a.rows * K * n, n));
  const rows = gemmRows(a.rows, (K + npad) * 4);
  const aPtr = ctx.alloc(rows * K * 4);
  const cPtr = ctx.alloc(rows * npad * 4);
  const ranges = cols.map(([n0, n1]) => ({
    n0,
    n1,
    pb: setParams(ctx, paramBlock(ctx, OP.gemm), P, {
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
    }),
  }));
  for (let r0 = 0; r0 < a.rows; r0 += rows) {
    const m = Math.min(rows, a.rows - r0);
    ctx.heap.f32(aPtr, m * K).set(a.data.subarray(r0 * K, (r0 + m) * K));
    const jobs = ranges.map((r) => setParams(ctx, r.pb, P, { M: m, N0: r.n0, N1: r.n1, R0: 0 }));
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
  const K = s.cols;
  const indices: Int32Array[] = [];
  const values: Float32Array[] = [];
  if (s.rows === 0) return { width: n, indices, values };
  const cols = splitColumns(n, parts(ctx, s.rows * K * n, n));
  const strides = cols.map(([n0, n1]) => (cap > 0 ? Math.min(cap, n1 - n0) : n1 - n0));
  const candidates = strides.reduce((t, x) => t + x, 0);
  const kept = cap > 0 ? Math.min(cap, candidates) : candidates;
  const rowBytes = K * 4 + cols.length * TN * 4 + 8 * (candidates + kept) + 4 * (cols.length + 1);
  const rows = gemmRows(s.rows, rowBytes);
  const aPtr = ctx.alloc(rows * K * 4);
  const outs = cols.map(([n0, n1], t) => {
    const stride = strides[t];
    const vals = ctx.alloc(rows * stride * 4);
    const idx = ctx.alloc(rows * stride * 4);
    const cnt = ctx.alloc(rows * 4);
    const pb = setParams(ctx, paramBlock(ctx, OP.gemm), P, {
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
    return { n0, n1, pb, vals, idx, cnt, stride };
  });
  const merged = mergeBuffers(ctx, outs, { rows, kept, cap });
  for (let r0 = 0; r0 < s.rows; r0 += rows) {
    const m = Math.min(rows, s.rows - r0);
    ctx.heap.f32(aPtr, m * K).set(s.data.subarray(r0 * K, (r0 + m) * K));
    for (const o of outs) ctx.heap.i32(o.cnt, m).fill(0);
    const jobs = outs.map((o) => setParams(ctx, o.pb, P, { M: m, N0: o.n0, N1: o.n1, R0: 0 }));
    if (m * candidates <= MERGE_AFTER_MAX) {
      // A small merge: the last worker of the encode round does it.
      await runToEnd(ctx, jobs, setParams(ctx, merged.pbs[0], MERGE, { R0: 0, R1: m }));
    } else {
      await runToEnd(ctx, jobs);
      const ranges = splitByWork(new Float64Array(m).fill(candidates), ctx.threads);
      await runToEnd(
        ctx,
        ranges.map(([a, b], t) => setParams(ctx, merged.pbs[t], MERGE, { R0: a, R1: b })),
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
function mergeBuffers(
  ctx: CallContext,
  parts: readonly { vals: number; idx: number; cnt: number; stride: number }[],
  options: { rows: number; kept: number; cap: number },
): { vals: number; idx: number; cnt: number; pbs: number[] } {
  const { rows, kept } = options;
  const desc = ctx.alloc(parts.length * 16);
  const d = ctx.heap.i32(desc, parts.length * 4);
  parts.forEach((o, t) => d.set([o.vals, o.idx, o.cnt, o.stride * 4], t * 4));
  const vals = ctx.alloc(rows * kept * 4);
  const idx = ctx.alloc(rows * kept * 4);
  const cnt = ctx.alloc(rows * 4);
  const pbs = Array.from(
    { length: ctx.threads },
    () =>
      setParams(ctx, paramBlock(ctx, OP.merge), MERGE, {
        DESC: desc,
        PARTS: parts.length,
        CAP: options.cap > 0 ? kept : 0,
        OVAL: vals,
        OIDX: idx,
        OCNT: cnt,
        OSTRIDE: kept,
      }),
  );
  return { vals, idx, cnt, pbs };
}

/** Options of {@link decoderRows}. */
export interface DecoderRowsOptions {
  /** The decoder, row-major with rows padded to 8. */
  readonly decoder: Packed;
  /** Output width (the decoder's real columns). */
  readonly dIn: number;
  /** Stored precision (a `PREC` code). */
  readonly prec: number;
  /** Fill output row r's starting values (zeroed before). */
  readonly init: (r: number, out: Float32Array) => void;
  /** Output row r's scale (default 1). */
  readonly scale?: (r: number) => number;
}

/** out[r] = init[r] + scale[r] * sum_j codes.values[r][j] * W_dec[codes.indices[r][j]]. */
export async function decoderRows(
  ctx: CallContext,
  codes: SparseRows,
  options: DecoderRowsOptions,
): Promise<Matrix> {
  const { dIn } = options;
  const dPad = pad8(dIn);
  const total = codes.indices.length;
  const out = matrix(total, dIn);
  if (total === 0) return out;
  const rows = blockRows(total, {
    rowBytes: dPad * 4,
    maxRows: Infinity,
    maxBytes: MAX_BLOCK_BYTES,
  });
  let widest = 0;
  for (let r0 = 0; r0 < total; r0 += rows) {
    let nnz = 0;
    for (let r = r0; r < Math.min(total, r0 + rows); r++) nnz += codes.indices[r].length;
    widest = Math.max(widest, nnz);
  }
  const outPtr = ctx.alloc(rows * dPad * 4);
  const idxPtr = ctx.alloc(Math.max(1, widest) * 4);
  const valPtr = ctx.alloc(Math.max(1, widest) * 4);
  const rowPtr = ctx.alloc((rows + 1) * 4);
  const scalePtr = ctx.alloc(rows * 4);
  const pbs = Array.from(
    { length: ctx.threads },
    () =>
      setParams(ctx, paramBlock(ctx, OP.axpy), AXPY, {
        OUT: outPtr,
        LDO: dPad,
        W: options.decoder.ptr,
        LDW: options.decoder.ldb,
        IDX: idxPtr,
        VAL: valPtr,
        ROWPTR: rowPtr,
        SCALE: scalePtr,
        N: dPad,
        PREC: options.prec,
      }),
  );
  for (let r0 = 0; r0 < total; r0 += rows) {
    const m = Math.min(rows, total - r0);
    const block = ctx.heap.f32(outPtr, m * dPad);
    block.fill(0);
    const starts = ctx.heap.i32(rowPtr, m + 1);
    const scales = ctx.heap.f32(scalePtr, m);
    const work = new Float64Array(m);
    let nnz = 0;
    for (let r = 0; r < m; r++) {
      options.init(r0 + r, block.subarray(r * dPad, r * dPad + dIn));
      const ix = codes.indices[r0 + r];
      starts[r] = nnz;
      ctx.heap.i32(idxPtr + nnz * 4, ix.length).set(ix);
      ctx.heap.f32(valPtr + nnz * 4, ix.length).set(codes.values[r0 + r]);
      scales[r] = options.scale?.(r0 + r) ?? 1;
      nnz += ix.length;
      work[r] = (ix.length + 1) * dPad;
    }
    starts[m] = nnz;
    if (nnz > 0) {
      const used = nnz * dPad < PARALLEL_MIN_WORK ? 1 : ctx.threads;
      const ranges = splitByWork(work, used);
      await runToEnd(
        ctx,
        ranges.map(([a, b], t) => setParams(ctx, pbs[t], AXPY, { R0: a, R1: b })),
      );
    }
    for (let r = 0; r < m; r++) {
      out.data.set(ctx.heap.f32(outPtr + r * dPad * 4, dIn), (r0 + r) * dIn);
    }
  }
  return out;
}

/**
 * In place: a rows x cols matrix of 32-byte blocks from row-major to column-major (a
 * row-major [K, 8 * cols] f32 matrix becomes panels of 8 columns), one worker, bounded steps.
 */
export async function transposeBlocks(
  ctx: CallContext,
  ptr: number,
  options: { rows: number; cols: number },
): Promise<void> {
  const total = options.rows * options.cols;
  if (total <= 1) return;
  const visited = ctx.alloc(Math.ceil(total / 8));
  ctx.heap.i32(visited, Math.ceil(total / 32)).fill(0);
  const state = ctx.alloc(TRANSPOSE_STATE_BYTES);
  ctx.heap.i32(state, TRANSPOSE_STATE_BYTES / 4).fill(0);
  const pb = setParams(ctx, paramBlock(ctx, OP.transposeBlocks), TRANSPOSE_BLOCKS, {
    PTR: ptr,
    ROWS: options.rows,
    COLS: options.cols,
    VISITED: visited,
    STATE: state,
    // Block moves per round: a few milliseconds at the default checkpoint work.
    BUDGET: Math.max(1024, Math.floor(ctx.checkpointWork / 16)),
  });
  await runToEnd(ctx, [pb]);
}

/**
 * In place: `count` f32 values at `ptr` become bf16 or f16 at the same index (2 bytes each).
 * Returns how many values overflowed f16 (0 for bf16).
 */
export async function compactInPlace(
  ctx: CallContext,
  ptr: number,
  options: { count: number; precision: "bf16" | "f16" },
): Promise<number> {
  const op = options.precision === "bf16" ? OP.compactBf16 : OP.compactF16;
  const pbs = Array.from(
    { length: ctx.threads },
    () => setParams(ctx, paramBlock(ctx, op), COMPACT, { PTR: ptr }),
  );
  const chunk = Math.max(4096, Math.floor(ctx.checkpointWork / 4));
  for (const round of compactionRounds(options.count, ctx.threads, chunk)) {
    await runToEnd(
      ctx,
      round.map(([i0, i1], t) => setParams(ctx, pbs[t], COMPACT, { I0: i0, I1: i1 })),
    );
  }
  let overflow = 0;
  for (const pb of pbs) overflow += ctx.heap.i32(pb, PARAM_WORDS)[COMPACT.OVERFLOW];
  return overflow;
}

/** Write src [rows, cols]^T into the kernels' memory at `dst` ([cols, ldd] f32, row-major). */
export async function transposeInto(
  ctx: CallContext,
  src: Matrix,
  options: { dst: number; ldd: number },
): Promise<void> {
  const { rows, cols } = src;
  if (rows === 0 || cols === 0) return;
  const from = ctx.alloc(src.data.length * 4);
  ctx.heap.f32(from, src.data.length).set(src.data);
  const pbs = Array.from(
    { length: ctx.threads },
    () =>
      setParams(ctx, paramBlock(ctx, OP.transposeF32), TRANSPOSE_F32, {
        SRC: from,
        ROWS: rows,
        COLS: cols,
        DST: options.dst,
        LDD: options.ldd,
      }),
  );
  const work = new Float64Array(cols).fill(rows);
  const used = rows * cols * 8 < PARALLEL_MIN_WORK ? 1 : ctx.threads;
  const ranges = splitByWork(work, used);
  await runToEnd(
    ctx,
    ranges.map(([c0, c1], t) => setParams(ctx, pbs[t], TRANSPOSE_F32, { C0: c0, C1: c1 })),
  );
}
