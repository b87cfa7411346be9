/**
 * Sparse codes times the decoder (decode and steer): each output row starts from the caller's
 * values, then the workers add the scaled decoder rows of its codes, rows split by work.
 * @module
 */

import { type Matrix, matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import { type Packed, pad8 } from "./pack.ts";
import { AXPY, OP } from "./params.ts";
import { blockRows, splitByWork } from "./rounds.ts";
import {
  type CallContext,
  MAX_BLOCK_BYTES,
  PARALLEL_MIN_WORK,
  paramBlock,
  runToEnd,
} from "./ops.ts";

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
  const out = matrix([total, dIn]);
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
  const blocks = Array.from({ length: ctx.threads }, () => {
    const block = paramBlock(ctx, AXPY, { op: OP.axpy });
    block.set({
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
    });
    return block;
  });
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
        ranges.map(([a, b], t) => blocks[t].set({ R0: a, R1: b })),
      );
    }
    for (let r = 0; r < m; r++) {
      out.data.set(ctx.heap.f32(outPtr + r * dPad * 4, dIn), (r0 + r) * dIn);
    }
  }
  return out;
}
