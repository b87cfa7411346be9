/**
 * Kernel calls of the training objective (wasm/assembly/train_*.ts), on operands already in the
 * kernels' memory: the encoder re-packed into panels, the encoder GEMM fused with the per-row
 * selections, the sparse decode with its residual, the backward pass over active latents, and
 * a transpose between two heap buffers. Each cuts its work into jobs for the pool's workers.
 * @module
 */

import { OP, TRANSPOSE_F32 } from "./params.ts";
import { splitByWork } from "./rounds.ts";
import { type CallContext, PARALLEL_MIN_WORK, paramBlock, runToEnd } from "./ops.ts";
import {
  f32Word,
  TRAIN_BACKWARD,
  TRAIN_DECODE,
  TRAIN_ENCODE,
  TRAIN_PANELS,
} from "./train_params.ts";

/** Columns per tile of the fused training encode (assembly/train_encode.ts TW). */
export const TRAIN_TILE = 128;
/** Most rows one encode job covers in a round. */
const ENCODE_JOB_ROWS = 256;

/** Per-row bounded selections in the kernels' memory: `stride` entries per row. */
export interface HeapSelections {
  readonly vals: number;
  readonly idx: number;
  readonly cnt: number;
  readonly stride: number;
}

/** Allocate selections for `rows` rows of `stride` entries, counts zeroed. */
export function allocSelections(
  ctx: CallContext,
  size: { rows: number; stride: number },
): HeapSelections {
  const { rows, stride } = size;
  const entries = Math.max(1, rows * stride);
  const cnt = ctx.alloc(Math.max(1, rows) * 4);
  ctx.heap.i32(cnt, rows).fill(0);
  return { vals: ctx.alloc(entries * 4), idx: ctx.alloc(entries * 4), cnt, stride };
}

/** The pool's jobs for `count` units of `work[i]` each, split into at most `ctx.threads` ranges. */
function ranges(ctx: CallContext, work: ArrayLike<number>, total: number): [number, number][] {
  return splitByWork(work, total < PARALLEL_MIN_WORK ? 1 : ctx.threads);
}

/**
 * Re-pack the row-major [k, ld] f32 matrix at `src` (`n` real columns, ld >= pad8(n)) into
 * panels of 8 columns at `dst`.
 */
export async function packPanels(
  ctx: CallContext,
  src: number,
  options: { k: number; ld: number; n: number; dst: number },
): Promise<void> {
  const panels = Math.ceil(options.n / 8);
  if (panels === 0 || options.k === 0) return;
  const work = new Float64Array(panels).fill(options.k * 8);
  const jobs = ranges(ctx, work, panels * options.k * 8).map(([p0, p1]) =>
    paramBlock(ctx, TRAIN_PANELS, { op: OP.trainPanels }).set({
      SRC: src,
      LDS: options.ld,
      K: options.k,
      DST: options.dst,
      P0: p0,
      P1: p1,
    })
  );
  await runToEnd(ctx, jobs);
}

/** Operands of {@link encodeSelect}. */
export interface EncodeSelectOptions {
  /** Rows of A, `lda` floats apart, `k` of them used. */
  readonly rows: number;
  readonly lda: number;
  readonly k: number;
  /** The encoder panels (`k` deep) and its real columns. */
  readonly panels: number;
  readonly n: number;
  /** b_enc, padded to pad8(n). */
  readonly bias: number;
  /** Main selection (its stride is the cap). */
  readonly main: HeapSelections;
  /** Aux selection over the columns whose `dead` word is -1 (absent: none). */
  readonly aux?: { readonly dead: number; readonly sel: HeapSelections };
}

/**
 * h = A @ W_enc + b_enc, never held whole: every h offered to its row's main selection (the
 * `main.stride` largest h > 0) and aux selection; selections come out sorted (main by index,
 * aux by value descending).
 */
export async function encodeSelect(
  ctx: CallContext,
  a: number,
  options: EncodeSelectOptions,
): Promise<void> {
  const { rows, k, n, main, aux } = options;
  if (rows === 0 || n === 0) return;
  const npad = Math.ceil(n / 8) * 8;
  const work = rows * k * npad;
  const parts = work < PARALLEL_MIN_WORK ? 1 : ctx.threads;
  const perRound = Math.min(rows, ENCODE_JOB_ROWS * parts);
  // Rows between checkpoints: about checkpointWork multiply-adds, a multiple of 6.
  const fit = Math.floor(ctx.checkpointWork / Math.max(1, k * TRAIN_TILE));
  const rb = Math.max(1, Math.min(ENCODE_JOB_ROWS, fit >= 6 ? fit - (fit % 6) : fit));
  const blocks = Array.from({ length: parts }, () => {
    const block = paramBlock(ctx, TRAIN_ENCODE, { op: OP.trainEncode });
    block.set({
      A: a,
      LDA: options.lda,
      B: options.panels,
      K: k,
      N: n,
      NPAD: npad,
      LDB: 32,
      PSTRIDE: k * 32,
      BIAS: options.bias,
      DEAD: aux?.dead ?? 0,
      CAP: main.stride,
      ACAP: aux?.sel.stride ?? 0,
      MVAL: main.vals,
      MIDX: main.idx,
      MCNT: main.cnt,
      AVAL: aux?.sel.vals ?? 0,
      AIDX: aux?.sel.idx ?? 0,
      ACNT: aux?.sel.cnt ?? 0,
      SCRATCH: ctx.alloc(rb * TRAIN_TILE * 4),
      RB: rb,
    });
    return block;
  });
  for (let r0 = 0; r0 < rows; r0 += perRound) {
    const m = Math.min(perRound, rows - r0);
    const jobs = blocks.map((block, t) => {
      const a0 = r0 + Math.floor((m * t) / parts);
      const a1 = r0 + Math.floor((m * (t + 1)) / parts);
      return a1 > a0 ? block.set({ RSTART: a0, REND: a1, T: 0, R: a0 }) : 0;
    });
    await runToEnd(ctx, jobs);
  }
}

/** Operands of {@link decodeRows}. */
export interface DecodeRowsOptions {
  readonly rows: number;
  /** Floats per row of W, Y and the output (a multiple of 8). */
  readonly ld: number;
  /** W_dec, rows `ld` floats apart. */
  readonly w: number;
  /** The codes of each row. */
  readonly codes: HeapSelections;
  /** A vector added to every row (0: none). */
  readonly bias: number;
  /** Rows added after the codes, scaled by `ys`. */
  readonly y: number;
  readonly ys: number;
  /** The output's scale. */
  readonly ao: number;
  /** Per row: the sum of squares of the unscaled output. */
  readonly sq: number;
}

/** out[r] = ao * v, v = bias + codes[r] @ W + ys * y[r]; sq[r] = |v|^2. */
export async function decodeRows(
  ctx: CallContext,
  out: number,
  options: DecodeRowsOptions,
): Promise<void> {
  const { rows, codes } = options;
  if (rows === 0) return;
  const counts = ctx.heap.i32(codes.cnt, rows);
  const work = Float64Array.from(counts, (c) => (c + 2) * options.ld);
  const total = work.reduce((t, w) => t + w, 0);
  const jobs = ranges(ctx, work, total).map(([r0, r1]) =>
    paramBlock(ctx, TRAIN_DECODE, { op: OP.trainDecode }).set({
      OUT: out,
      LD: options.ld,
      W: options.w,
      IDX: codes.idx,
      VAL: codes.vals,
      CNT: codes.cnt,
      STRIDE: codes.stride,
      BIAS: options.bias,
      Y: options.y,
      YS: f32Word(options.ys),
      AO: f32Word(options.ao),
      SQ: options.sq,
      R0: r0,
      R1: r1,
    })
  );
  await runToEnd(ctx, jobs);
}

/** Operands of {@link backwardLatents}. */
export interface BackwardOptions {
  /** Latents. */
  readonly n: number;
  /** Floats per row (a multiple of 8). */
  readonly ld: number;
  /** W_dec, gradient rows G, input rows S (`rows` of them; G row g pairs with S row g mod rows). */
  readonly w: number;
  readonly g: number;
  readonly s: number;
  readonly rows: number;
  /** Entries by latent: offsets (n + 1), gradient rows and activations. */
  readonly cptr: number;
  readonly erow: number;
  readonly eval: number;
  /** Outputs: [n, ld] W_dec and W_enc^T gradients, [n] b_enc gradient. */
  readonly gw: number;
  readonly ge: number;
  readonly gb: number;
}

/** The sparse backward pass, latents split by their entries between the workers. */
export async function backwardLatents(ctx: CallContext, options: BackwardOptions): Promise<void> {
  const { n } = options;
  if (n === 0) return;
  const cptr = ctx.heap.i32(options.cptr, n + 1);
  const work = new Float64Array(n);
  for (let i = 0; i < n; i++) work[i] = (3 * (cptr[i + 1] - cptr[i]) + 1) * options.ld;
  const total = work.reduce((t, w) => t + w, 0);
  const jobs = ranges(ctx, work, total).map(([l0, l1]) =>
    paramBlock(ctx, TRAIN_BACKWARD, { op: OP.trainBackward }).set({
      W: options.w,
      LD: options.ld,
      G: options.g,
      S: options.s,
      ROWS: options.rows,
      CPTR: options.cptr,
      EROW: options.erow,
      EVAL: options.eval,
      GW: options.gw,
      GE: options.ge,
      GB: options.gb,
      L0: l0,
      L1: l1,
    })
  );
  await runToEnd(ctx, jobs);
}

/**
 * dst[c * ldd + r] = src[r * lds + c] for the `rows` x `cols` f32 matrix at `src` (rows `lds`
 * floats apart).
 */
export async function transposeHeap(
  ctx: CallContext,
  src: number,
  options: { rows: number; cols: number; lds: number; dst: number; ldd: number },
): Promise<void> {
  const { rows, cols } = options;
  if (rows === 0 || cols === 0) return;
  const work = new Float64Array(cols).fill(rows);
  const jobs = ranges(ctx, work, rows * cols * 8).map(([c0, c1]) =>
    paramBlock(ctx, TRANSPOSE_F32, { op: OP.transposeF32 }).set({
      SRC: src,
      ROWS: rows,
      COLS: options.lds,
      DST: options.dst,
      LDD: options.ldd,
      C0: c0,
      C1: c1,
    })
  );
  await runToEnd(ctx, jobs);
}
