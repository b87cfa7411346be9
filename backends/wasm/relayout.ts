/**
 * Layout changes in the kernels' memory: the in-place block transpose that turns a row-major
 * encoder into panels of 8 columns, the in-place compaction of f32 weights to bf16 or f16, the
 * in-place column-major relayout of f32 panels (the int8 encode's exact rescoring reads it), and
 * an out-of-place f32 transpose (matmul with a transposed operand).
 * @module
 */

import type { Matrix } from "../../domain/sae/matrix.ts";
import {
  COLUMN_MAJOR,
  COMPACT,
  OP,
  TRANSPOSE_BLOCKS,
  TRANSPOSE_F32,
  TRANSPOSE_STATE_BYTES,
} from "./params.ts";
import { compactionRounds, splitByWork } from "./rounds.ts";
import { type CallContext, PARALLEL_MIN_WORK, paramBlock, runToEnd } from "./ops.ts";
import type { HalfPrecision } from "../../domain/precision.ts";

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
  const pb = paramBlock(ctx, TRANSPOSE_BLOCKS, { op: OP.transposeBlocks }).set({
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
  options: { count: number; precision: HalfPrecision },
): Promise<number> {
  const op = options.precision === "bf16" ? OP.compactBf16 : OP.compactF16;
  const blocks = Array.from({ length: ctx.threads }, () => {
    const block = paramBlock(ctx, COMPACT, { op });
    block.set({ PTR: ptr });
    return block;
  });
  const chunk = Math.max(4096, Math.floor(ctx.checkpointWork / 4));
  for (const round of compactionRounds(options.count, { parts: ctx.threads, chunk })) {
    await runToEnd(
      ctx,
      round.map(([i0, i1], t) => blocks[t].set({ I0: i0, I1: i1 })),
    );
  }
  let overflow = 0;
  for (const block of blocks) overflow += block.get("OVERFLOW");
  return overflow;
}

/**
 * Make the f32 encoder panels at `f32` (K deep, `panels` of 8 columns) column-major in place,
 * by the workers: the int8 encode's exact rescoring then reads a candidate's own K floats, a
 * quarter of the bytes of its 4-column quad.
 */
export async function columnMajor(
  ctx: CallContext,
  f32: number,
  options: { K: number; panels: number },
): Promise<void> {
  const { K, panels } = options;
  if (panels === 0) return;
  const ranges = splitByWork(new Float64Array(panels).fill(K), ctx.threads);
  const jobs = ranges.map(([p0, p1]) =>
    paramBlock(ctx, COLUMN_MAJOR, { op: OP.columnMajor }).set({
      PTR: f32,
      K,
      P0: p0,
      P1: p1,
      SCRATCH: ctx.alloc(K * 32),
    })
  );
  await runToEnd(ctx, jobs);
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
  const blocks = Array.from({ length: ctx.threads }, () => {
    const block = paramBlock(ctx, TRANSPOSE_F32, { op: OP.transposeF32 });
    block.set({ SRC: from, ROWS: rows, COLS: cols, DST: options.dst, LDD: options.ldd });
    return block;
  });
  const work = new Float64Array(cols).fill(rows);
  const used = rows * cols * 8 < PARALLEL_MIN_WORK ? 1 : ctx.threads;
  const ranges = splitByWork(work, used);
  await runToEnd(
    ctx,
    ranges.map(([c0, c1], t) => blocks[t].set({ C0: c0, C1: c1 })),
  );
}
