/**
 * Weights converted to bf16 or f16 a chunk at a time, inside their destination: a few MiB of
 * f32 are laid out (as panels of 8 columns, or rows padded to 8) where the chunk's 16-bit
 * values go, spilling into the part of the destination not written yet, and compacted there
 * by the workers. Only the last unit or so, whose f32 would run past the destination's end,
 * goes through a scratch block of one unit. The whole f32 image never enters the kernels'
 * memory, which cannot shrink: it stays in the loader's own arrays, which are returned to the
 * system once dropped; and no MiB-sized scratch is left resident there either.
 * @module
 */

import type { Matrix } from "../../domain/sae/matrix.ts";
import type { CallContext } from "./ops.ts";
import { pad8 } from "./pack.ts";
import { compactInPlace } from "./relayout.ts";
import type { HalfPrecision } from "../../domain/precision.ts";

/** f32 bytes converted per chunk. */
const CHUNK_BYTES = 4 << 20;

/** Options of {@link packStreamed}. */
export interface StreamedOptions {
  /** Destination: `rows * pad8(cols)` 16-bit values. */
  readonly dst: number;
  readonly precision: HalfPrecision;
  /** The encoder's panels of 8 columns (K-major inside a panel) rather than padded rows. */
  readonly panels: boolean;
  /** f32 bytes converted per chunk (default 4 MiB; tests use less). */
  readonly chunkBytes?: number;
}

/**
 * Write `m` at `options.dst` in bf16 / f16, as panels or padded rows. Returns how many values
 * overflowed f16 (0 for bf16).
 */
export async function packStreamed(
  ctx: CallContext,
  m: Matrix,
  options: StreamedOptions,
): Promise<number> {
  const { rows, cols } = m;
  const npad = pad8(cols);
  if (rows === 0 || npad === 0) return 0;
  // Units: panels (rows * 8 values) or padded rows (npad values).
  const unit = options.panels ? rows * 8 : npad;
  const units = options.panels ? npad / 8 : rows;
  const per = Math.max(1, Math.floor((options.chunkBytes ?? CHUNK_BYTES) / (unit * 4)));
  let overflow = 0;
  let scratch = 0;
  for (let u0 = 0; u0 < units;) {
    // In place while the chunk's f32 (4 bytes a value) ends inside the destination (2 bytes a
    // value): n units from u0 need u0 + 2n <= units.
    let n = Math.min(per, Math.floor((units - u0) / 2));
    const to = options.dst + u0 * unit * 2;
    let at = to;
    if (n === 0) {
      n = units - u0;
      scratch ||= ctx.alloc(n * unit * 4);
      at = scratch;
    }
    fill(ctx.heap.f32(at, n * unit), m, { u0, n, unit, panels: options.panels });
    overflow += await compactInPlace(ctx, at, { count: n * unit, precision: options.precision });
    if (at !== to) {
      new Uint8Array(ctx.heap.memory.buffer).copyWithin(to, at, at + n * unit * 2);
    }
    u0 += n;
  }
  return overflow;
}

/** Lay units [u0, u0 + n) of `m` out in f32 in `s` (panels of 8 columns, or padded rows). */
function fill(
  s: Float32Array,
  m: Matrix,
  chunk: { u0: number; n: number; unit: number; panels: boolean },
): void {
  const { rows, cols, data } = m;
  const { u0, n, unit } = chunk;
  const npad = pad8(cols);
  if (chunk.panels) {
    for (let p = 0; p < n; p++) {
      const c0 = (u0 + p) * 8;
      const width = Math.min(8, cols - c0);
      let at = p * unit;
      for (let k = 0; k < rows; k++, at += 8) {
        const from = k * cols + c0;
        for (let j = 0; j < width; j++) s[at + j] = data[from + j];
        for (let j = width; j < 8; j++) s[at + j] = 0;
      }
    }
  } else {
    for (let r = 0; r < n; r++) {
      const from = (u0 + r) * cols;
      s.set(data.subarray(from, from + cols), r * npad);
      s.fill(0, r * npad + cols, (r + 1) * npad);
    }
  }
}
