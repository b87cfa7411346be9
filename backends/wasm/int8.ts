/**
 * The host's side of the int8 encode (`SAESERVE_WEIGHTS=int8`): the encoder's f32 panels
 * quantized per column by the workers at load, activations quantized per row before each
 * block, and the width of the candidate heaps. Why the selection is exact where it must be,
 * and how values come out equal to the f32 encode: wasm/assembly/int8.ts.
 * @module
 */

import type { Matrix } from "../../domain/sae/matrix.ts";
import type { SharedHeap } from "./heap.ts";
import { type CallContext, paramBlock, runToEnd } from "./ops.ts";
import { OP, QUANT_I8 } from "./params.ts";
import { splitByWork } from "./rounds.ts";

/** The int8 copy of an encoder: panels of 8 columns, KP (K rounded up to 4) deep. */
export interface Int8Encoder {
  /** Byte address of the int8 panels (npad * KP bytes). */
  readonly panels: number;
  /** Per-column data: 4 arrays of npad (scale, sum of q, weight error bound, ||wq||). */
  readonly columns: number;
  /** K rounded up to a multiple of 4. */
  readonly kp: number;
  /** Columns, padded to 8. */
  readonly npad: number;
}

/** Bytes of an int8 copy of a [K, npad] encoder. */
export function int8Bytes(K: number, npad: number): number {
  return npad * depth(K) + 16 * npad;
}

/** K rounded up to a multiple of 4 (one relaxed dot covers 4 k of a column). */
function depth(K: number): number {
  return Math.ceil(K / 4) * 4;
}

/**
 * Candidates kept per row and part before the exact rescoring: the requested count plus a
 * margin, so that a latent just past the k-th by the int8 estimate is still rescored.
 */
export function int8Candidates(cap: number): number {
  return cap + Math.max(16, Math.ceil(cap / 4));
}

/**
 * Quantize the f32 encoder panels at `f32` (K deep, npad columns) into `dst` (allocated with
 * {@link int8Bytes}), by the workers.
 */
export async function quantizeEncoder(
  ctx: CallContext,
  f32: number,
  options: { K: number; npad: number; dst: number },
): Promise<Int8Encoder> {
  const { K, npad, dst } = options;
  const kp = depth(K);
  const panels = npad / 8;
  const enc: Int8Encoder = { panels: dst, columns: dst + npad * kp, kp, npad };
  if (panels === 0) return enc;
  const ranges = splitByWork(new Float64Array(panels).fill(K), ctx.threads);
  const jobs = ranges.map(([p0, p1]) =>
    paramBlock(ctx, QUANT_I8, { op: OP.quantI8 }).set({
      SRC: f32,
      K,
      KP: kp,
      DST: enc.panels,
      COL: enc.columns,
      NPAD: npad,
      P0: p0,
      P1: p1,
    })
  );
  await runToEnd(ctx, jobs);
  return enc;
}

/**
 * Rows [r0, r0 + m) of `s` as the relaxed dot's 7-bit operand at `options.a8` (kp bytes a
 * row, q + 64 with q = round(x / scale) in [-63, 63], scale = max|x| / 63), and per row at
 * `options.rows` 4 f32: the scale, ||x|| and ||x - scale * q||, both rounded up.
 */
export function quantizeRows(
  heap: SharedHeap,
  s: Matrix,
  options: { r0: number; m: number; kp: number; a8: number; rows: number },
): void {
  const { r0, m, kp } = options;
  const K = s.cols;
  const a8 = new Uint8Array(heap.memory.buffer, options.a8, m * kp);
  const data = heap.f32(options.rows, m * 4);
  for (let r = 0; r < m; r++) {
    const x = s.data.subarray((r0 + r) * K, (r0 + r + 1) * K);
    let amax = 0;
    for (let k = 0; k < K; k++) amax = Math.max(amax, Math.abs(x[k]));
    const scale = Math.fround(amax / 63);
    const inv = scale > 0 ? 1 / scale : 0;
    let xx = 0;
    let ee = 0;
    const row = a8.subarray(r * kp, (r + 1) * kp);
    for (let k = 0; k < K; k++) {
      const q = Math.max(-63, Math.min(63, Math.round(x[k] * inv)));
      row[k] = q + 64;
      const e = x[k] - scale * q;
      xx += x[k] * x[k];
      ee += e * e;
    }
    row.fill(64, K);
    data[r * 4] = scale;
    data[r * 4 + 1] = Math.sqrt(xx) * (1 + 1e-6);
    data[r * 4 + 2] = Math.sqrt(ee) * (1 + 1e-6);
    data[r * 4 + 3] = 0;
  }
}
