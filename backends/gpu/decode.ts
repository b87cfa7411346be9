/**
 * Decode and steer on the GPU: sparse codes times the decoder, accumulated chunk by chunk of
 * decoder rows onto a starting matrix (b_dec for decode, the activations for steer).
 * @module
 */

import { type Matrix, matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import { nonZeroRows } from "../top_k_rows.ts";
import { storage, uniform, write } from "./buffers.ts";
import { withPlan } from "./kept_plans.ts";
import { dispatch } from "./passes.ts";
import type { GpuPrepared, KeptPlan } from "./prepare.ts";
import { SKINNY_MAX_ROWS } from "./wgsl.ts";

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
  // Entries per row rounded up to a power of two (padding -1 is skipped by the shader), so
  // calls whose rows hold a few more or fewer entries share one kept plan.
  let width = 8;
  for (const ix of codes.indices) while (width < ix.length) width *= 2;
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
  const [result] = await withPlan(p, `accumulate:${rows}:${width}`, {
    keep: rows <= SKINNY_MAX_ROWS && width <= 1024,
    make: () => accumulatePlan(p, { rows, width }),
    use: (held) => {
      [options.init, idx, val, options.scale].forEach((data, i) =>
        write(device, { buffer: held.inputs[i], data })
      );
      return kernels.play(held.plan);
    },
  });
  return matrix([rows, w.dIn], new Float32Array(result));
}

/**
 * The recorded accumulation of `rows` rows of `width` entries, decoder chunk by chunk. Its
 * inputs: the starting rows (also the output), indices, values, row scales.
 */
async function accumulatePlan(
  p: GpuPrepared,
  shape: { rows: number; width: number },
): Promise<KeptPlan> {
  const { rows, width } = shape;
  const { kernels, weights: w } = p;
  const device = kernels.device;
  let inputs: GPUBuffer[] = [];
  const plan = await kernels.record((recording) => {
    const out = recording.temp(storage(device, rows * w.dIn * 4));
    const idx = recording.temp(storage(device, rows * width * 4));
    const val = recording.temp(storage(device, rows * width * 4));
    const scale = recording.temp(storage(device, rows * 4));
    inputs = [out, idx, val, scale];
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
        buffers: [chunk.buffer, idx, val, scale, out, params],
        groups: [Math.ceil(w.dIn / 64), rows],
      });
    }
    return [{ buffer: out, bytes: rows * w.dIn * 4 }];
  });
  return { inputs, plan, bytes: plan.temps.reduce((n, b) => n + b.size, 0), busy: false };
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
  return accumulateRows(p, options.deltas, { init: x.data, scale });
}
