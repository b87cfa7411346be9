/**
 * Weights converted to bf16 or f16 a chunk at a time: a few MiB of f32 are laid out in a
 * scratch block of the kernels' memory (as panels of 8 columns, or rows padded to 8),
 * compacted there by the workers and copied to their place. The whole f32 image never enters
 * the kernels' memory, which cannot shrink: it stays in the loader's own arrays, which are
 * returned to the system once dropped.
 * @module
 */

import type { Matrix } from "../../domain/sae/matrix.ts";
import type { CallContext } from "./ops.ts";
import { pad8 } from "./pack.ts";
import { compactInPlace } from "./relayout.ts";

/** f32 bytes converted per chunk. */
const CHUNK_BYTES = 4 << 20;

/** Options of {@link packStreamed}. */
export interface StreamedOptions {
  /** Destination: `rows * pad8(cols)` 16-bit values. */
  readonly dst: number;
  readonly precision: "bf16" | "f16";
  /** The encoder's panels of 8 columns (K-major inside a panel) rather than padded rows. */
  readonly panels: boolean;
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
  const { rows, cols, data } = m;
  const npad = pad8(cols);
  if (rows === 0 || npad === 0) return 0;
  // Units: panels (rows * 8 values) or padded rows (npad values).
  const unit = options.panels ? rows * 8 : npad;
  const units = options.panels ? npad / 8 : rows;
  const per = Math.max(1, Math.floor(CHUNK_BYTES / (unit * 4)));
  const scratch = ctx.alloc(Math.min(per, units) * unit * 4);
  let overflow = 0;
  for (let u0 = 0; u0 < units; u0 += per) {
    const n = Math.min(per, units - u0);
    const s = ctx.heap.f32(scratch, n * unit);
    if (options.panels) {
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
    overflow += await compactInPlace(ctx, scratch, {
      count: n * unit,
      precision: options.precision,
    });
    const to = options.dst + u0 * unit * 2;
    new Uint8Array(ctx.heap.memory.buffer).copyWithin(to, scratch, scratch + n * unit * 2);
  }
  return overflow;
}
