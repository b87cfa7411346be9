/**
 * Decode and steer on the GPU: sparse codes times the decoder, accumulated chunk by chunk of
 * decoder rows onto a starting matrix (b_dec for decode, the activations for steer).
 * @module
 */

import { type Matrix, matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import { nonZeroRows } from "../top_k_rows.ts";
import { uniform, upload } from "./buffers.ts";
import { dispatch } from "./passes.ts";
import type { GpuPrepared } from "./prepare.ts";

/**
 * out[r] = init[r] + scale[r] * sum_j v_j W_dec[i_j], on the GPU, chunk by chunk. Throws a
 * RangeError for a feature index outside [0, d_sae).
 */
export async function accumulateRows(
  p: GpuPrepared,
  codes: SparseRows,
  options: { init: Float32Array; scale: Float32Array },
): Promise<Matrix> {
  const { kernels, weights: w } = p;
  const device = kernels.device;
  const rows = codes.indices.length;
  const width = Math.max(1, codes.indices.reduce((m, ix) => Math.max(m, ix.length), 0));
  const idx = new Int32Array(rows * width).fill(-1);
  const val = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const ix = codes.indices[r];
    for (let j = 0; j < ix.length; j++) {
      if (!(ix[j] >= 0 && ix[j] < w.dSae)) {
        throw new RangeError(`feature index ${ix[j]} outside [0, ${w.dSae})`);
      }
    }
    idx.set(ix, r * width);
    val.set(codes.values[r], r * width);
  }
  const out = upload(device, options.init);
  const buffers = [upload(device, idx), upload(device, val), upload(device, options.scale)];
  try {
    const [result] = await kernels.run((recording) => {
      for (const chunk of p.decoder) {
        const params = recording.temp(
          uniform(device, [
            rows,
            w.dIn,
            width,
            chunk.span.start,
            chunk.span.end - chunk.span.start,
            chunk.ld,
          ]),
        );
        dispatch(recording, kernels.decode, {
          buffers: [chunk.buffer, ...buffers, out, params],
          groups: [Math.ceil(w.dIn / 64), rows],
        });
      }
      return [{ buffer: out, bytes: rows * w.dIn * 4 }];
    });
    return matrix([rows, w.dIn], new Float32Array(result));
  } finally {
    out.destroy();
    for (const b of buffers) b.destroy();
  }
}

/** y = codes @ W_dec (+ b_dec unless `bias: false`), sparse codes. */
export function decodeSparse(
  p: GpuPrepared,
  codes: SparseRows,
  options?: { bias?: boolean },
): Promise<Matrix> {
  const rows = codes.indices.length;
  const init = new Float32Array(rows * p.weights.dIn);
  if (options?.bias !== false) {
    for (let r = 0; r < rows; r++) init.set(p.weights.bDec, r * p.weights.dIn);
  }
  return accumulateRows(p, codes, { init, scale: new Float32Array(rows).fill(1) });
}

/** y = codes @ W_dec (+ b_dec unless `bias: false`), dense codes (their non-zeros are summed). */
export function decodeDense(
  p: GpuPrepared,
  codes: Matrix,
  options?: { bias?: boolean },
): Promise<Matrix> {
  const sparse = nonZeroRows(codes);
  return decodeSparse(p, { ...sparse, width: p.weights.dSae }, options);
}

/** out[r] = x[r] + rowScale[r] * sum_j deltas[r][j] * W_dec[j] (rowScale defaults to 1). */
export function steerRows(
  p: GpuPrepared,
  x: Matrix,
  options: { deltas: SparseRows; rowScale?: Float32Array },
): Promise<Matrix> {
  const scale = options.rowScale ?? new Float32Array(x.rows).fill(1);
  return accumulateRows(p, options.deltas, { init: x.data.slice(), scale });
}
