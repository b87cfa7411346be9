/**
 * The host's side of the int8 weights (`SAESERVE_WEIGHTS=int8`): the encoder's f32 panels
 * quantized per column by the workers at load, and how many candidates each row rescores. The
 * encode itself: wasm/int8_encode.ts; why the selection is exact where it must be, and how
 * values come out equal to the f32 encode: wasm/assembly/int8.ts.
 * @module
 */

import type { Activation } from "../../domain/sae/dictionary.ts";
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
 * Candidates rescored exactly per row (the best by the int8 estimate over all parts): the
 * requested count plus a margin, so that a latent just past the k-th by the estimate is still
 * rescored.
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
 * Whether the int8 encode serves `activation`: ReLU, JumpReLU and TopK, and gated whose
 * magnitude scales are not negative (its candidates need a bound that grows with the
 * pre-activation). Every other kind encodes from the f32 panels, without an int8 copy.
 */
export function int8Applies(activation: Activation): boolean {
  switch (activation.kind) {
    case "relu":
    case "jumprelu":
    case "topk":
      return true;
    case "gated":
      return activation.magScale.every((x) => x >= 0);
    default:
      return false;
  }
}
