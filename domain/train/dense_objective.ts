/**
 * The training objective for dense activations (ReLU and JumpReLU early in training): the four
 * large products go through the backend as GEMMs instead of sparse sums. Also the batch
 * helpers both paths share: column moments and the transpose.
 * @module
 */

import type { Backend } from "../../backends/backend.ts";
import { type Matrix, matrix } from "../sae/matrix.ts";
import {
  type BatchResult,
  type ObjectiveOptions,
  type SaeParams,
  zeroGradients,
} from "./params.ts";

/** Transposes of input batches, kept while the batch array lives. */
const transposedInputs = new WeakMap<Float32Array, Float32Array>();

/** The transpose of row-major [rows, cols] `data`. */
export function transpose(data: Float32Array, shape: { rows: number; cols: number }): Float32Array {
  const { rows, cols } = shape;
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  }
  return out;
}

/** Column means and total sum of squares of a batch, kept while the batch array lives. */
const batchMoments = new WeakMap<Float32Array, { mean: Float64Array; sst: number }>();

/** Column means and total sum of squares of batch `x` (cached per batch array). */
export function momentsOf(x: Matrix): { mean: Float64Array; sst: number } {
  let m = batchMoments.get(x.data);
  if (m) return m;
  const { rows: B, cols: d } = x;
  const mean = new Float64Array(d);
  for (let b = 0; b < B; b++) for (let c = 0; c < d; c++) mean[c] += x.data[b * d + c];
  for (let c = 0; c < d; c++) mean[c] /= B;
  let sst = 0;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < d; c++) sst += (x.data[b * d + c] - mean[c]) ** 2;
  }
  m = { mean, sst };
  batchMoments.set(x.data, m);
  return m;
}

/**
 * The same objective for dense activations (ReLU and JumpReLU early in training): the four
 * large products go through the backend as GEMMs instead of sparse sums, and the activation
 * is read straight off `h` (with the encoder bias already added).
 */
export async function denseGradients(
  backend: Backend,
  params: SaeParams,
  ctx: { x: Matrix; h: Matrix; theta: Float32Array | null; options: ObjectiveOptions },
): Promise<BatchResult> {
  const { dIn, dSae } = params;
  const { x, h, theta, options } = ctx;
  const B = x.rows;
  const arch = options.architecture;
  const coef = options.sparsityCoefficient ?? 0;
  // f = act(h); fT is its transpose (for dW_dec = F^T dR).
  const f = matrix([B, dSae]);
  const fT = matrix([dSae, B]);
  const fired = new Uint32Array(dSae);
  let l0 = 0;
  let l1 = 0;
  for (let b = 0; b < B; b++) {
    const o = b * dSae;
    for (let i = 0; i < dSae; i++) {
      const v = h.data[o + i];
      if (v > 0 && (theta === null || v > theta[i])) {
        f.data[o + i] = v;
        fT.data[i * B + b] = v;
        fired[i]++;
        l0++;
        l1 += v;
      }
    }
  }
  const wDec = matrix([dSae, dIn], params.wDec);
  const recon = await backend.matmul(f, wDec);
  const { sst } = momentsOf(x);
  const grads = zeroGradients(params, options.gradients);
  // dR = dLoss/dx^ = 2 (x^ - x) / B; its column sums are b_dec's direct gradient.
  let sse = 0;
  const dR = matrix([B, dIn]);
  const colSum = new Float64Array(dIn);
  for (let b = 0; b < B; b++) {
    const o = b * dIn;
    for (let c = 0; c < dIn; c++) {
      const i = o + c;
      const e = recon.data[i] + params.bDec[c] - x.data[i];
      sse += e * e;
      const g = (2 * e) / B;
      dR.data[i] = g;
      colSum[c] += g;
    }
  }
  // dL/df for every latent, then dL/dh where the activation passes gradient.
  const dF = await backend.matmul(dR, wDec, { transposeB: true });
  const dH = matrix([B, dSae]);
  const sparsityLoss = arch === "relu" ? (coef * l1) / B : (coef * l0) / B;
  const push = arch === "relu" ? coef / B : 0;
  const gEncBias = new Float64Array(dSae);
  for (let at = 0; at < B * dSae; at += dSae) {
    for (let i = 0; i < dSae; i++) {
      if (f.data[at + i] > 0) {
        const g = dF.data[at + i] + push;
        dH.data[at + i] = g;
        gEncBias[i] += g;
      }
    }
  }
  for (let i = 0; i < dSae; i++) grads.bEnc[i] = gEncBias[i];
  if (arch === "jumprelu") {
    const eps = options.bandwidth ?? 0.001;
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < dSae; i++) {
        const hv = h.data[b * dSae + i];
        const t = theta![i];
        if (Math.abs((hv - t) / eps) > 0.5 || hv <= 0) continue;
        const dTheta = dF.data[b * dSae + i] * (-t / eps) + (coef / B) * (-1 / eps);
        grads.logThreshold[i] += dTheta * t;
      }
    }
  }
  // dW_dec = F^T dR.
  grads.wDec.set((await backend.matmul(fT, dR)).data);
  // dW_enc = S^T dH with S = X - 1 b_dec^T: X^T dH - b_dec (1^T dH), and 1^T dH = grad(b_enc).
  // X^T is cached per input array (full-batch training reuses it every step).
  let xT = transposedInputs.get(x.data);
  if (!xT) transposedInputs.set(x.data, xT = transpose(x.data, { rows: B, cols: dIn }));
  const gEnc = await backend.matmul(matrix([dIn, B], xT), dH);
  for (let c = 0; c < dIn; c++) {
    const bc = params.bDec[c];
    const o = c * dSae;
    for (let i = 0; i < dSae; i++) gEnc.data[o + i] -= bc * grads.bEnc[i];
  }
  grads.wEnc.set(gEnc.data);
  // b_dec: directly through x^, and through s = x - b_dec as -W_enc @ grad(b_enc).
  for (let c = 0; c < dIn; c++) {
    let acc = colSum[c];
    const o = c * dSae;
    for (let i = 0; i < dSae; i++) acc -= params.wEnc[o + i] * grads.bEnc[i];
    grads.bDec[c] = acc;
  }
  const mse = sse / B;
  return {
    loss: mse + (Number.isFinite(sparsityLoss) ? sparsityLoss : 0),
    mse,
    sparsityLoss: Number.isFinite(sparsityLoss) ? sparsityLoss : 0,
    auxLoss: 0,
    fvu: sst > 0 ? sse / sst : 0,
    l0: l0 / B,
    fired,
    minSelected: 0,
    grads,
  };
}
