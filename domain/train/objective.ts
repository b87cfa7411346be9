/**
 * The training objective of the four SAE architectures and its exact gradient, for one batch.
 * Dense products go through a compute backend (so WASM and WebGPU carry the heavy math);
 * k-sparse parts (TopK, BatchTopK) run as sparse sums here, the reference for backends that
 * compute the whole TopK / BatchTopK objective with their own kernels (`sparseObjective`).
 *
 *   s = x - b_dec;  h = s @ W_enc + b_enc;  f = act(h);  x^ = f @ W_dec + b_dec
 *   loss = mean_b ||x^ - x||^2 + sparsity + auxk
 *
 * topk: f keeps each row's k largest h (then relu). batchtopk: the batch's B*k largest relu(h).
 * relu: f = relu(h), sparsity = l1 * mean_b sum_i f_i. jumprelu: f = h * H(h - theta), theta =
 * exp(log_threshold), sparsity = l0 * mean_b sum_i H(h - theta) with straight-through gradients
 * for theta (rectangle kernel of width `bandwidth`). AuxK (topk, batchtopk): the k_aux largest
 * pre-activations of dead latents reconstruct the residual x - x^ (held fixed), weighted auxAlpha
 * and normalized by the residual's variance.
 * @module
 */

import type { Backend } from "../../backends/backend.ts";
import { type Matrix, matrix } from "../sae/matrix.ts";
import { topK } from "../sae/top_k.ts";
import { denseGradients, momentsOf, transpose } from "./dense_objective.ts";
import {
  type BatchResult,
  type ObjectiveOptions,
  type SaeParams,
  zeroGradients,
} from "./params.ts";

export type { BatchResult, ObjectiveOptions, SaeParams, TrainArchitecture } from "./params.ts";

/** Sparse activations: per row, latent ids and values. */
interface Active {
  readonly ids: Int32Array[];
  readonly values: Float32Array[];
}

/** Indices of the `k` largest values of `values` among those `allowed` (ties: lower index). */
function largest(values: Float32Array, k: number, allowed?: (i: number) => boolean): number[] {
  return [...topK(values, k, allowed ? { keep: (_v, i) => allowed(i) } : undefined).indices];
}

/** The batch's loss and gradients at `params`. `batch.x` is [batch, d_in] (already scaled). */
export async function lossAndGradients(
  backend: Backend,
  batch: { params: SaeParams; x: Matrix },
  options: ObjectiveOptions,
): Promise<BatchResult> {
  const { params, x } = batch;
  const arch = options.architecture;
  if ((arch === "topk" || arch === "batchtopk") && backend.sparseObjective) {
    return await backend.sparseObjective(params, x, options);
  }
  const { dIn, dSae } = params;
  const B = x.rows;
  const coef = options.sparsityCoefficient ?? 0;
  // h = s @ W_enc + b_enc with s = x - b_dec, computed as x @ W_enc + (b_enc - b_dec @ W_enc).
  const h = await backend.matmul(x, matrix([dIn, dSae], params.wEnc));
  const bias = encoderBias(params);
  for (let b = 0; b < B; b++) addRow(h.data, b * dSae, bias);
  const theta = arch === "jumprelu" ? params.logThreshold.map(Math.exp) : null;
  // Sparse sums cost ~3 d per active latent in JS; the GEMMs ~8 B d_sae d at WASM speed: the
  // GEMMs win once more than ~1/48 of the latents are active.
  if (
    (arch === "relu" || arch === "jumprelu") &&
    countActive(h.data, theta ?? new Float32Array(dSae)) > (B * dSae) / 48
  ) {
    return await denseGradients(backend, params, { x, h, theta, options });
  }
  const s = matrix([B, dIn], x.data.slice());
  for (let b = 0; b < B; b++) for (let c = 0; c < dIn; c++) s.data[b * dIn + c] -= params.bDec[c];

  // Activation: sparse lists of active latents (value f, and dF/dh = 1 where active).
  const ids: Int32Array[] = [];
  const vals: Float32Array[] = [];
  let minSelected = 0;
  if (arch === "batchtopk") {
    const total = Math.min(B * (options.k ?? 1), B * dSae);
    const flat = largest(h.data, total, (i) => h.data[i] > 0);
    const per: number[][] = Array.from({ length: B }, () => []);
    for (const at of flat) per[Math.floor(at / dSae)].push(at % dSae);
    minSelected = flat.length ? h.data[flat[flat.length - 1]] : 0;
    for (let b = 0; b < B; b++) {
      per[b].sort((p, q) => p - q);
      ids.push(Int32Array.from(per[b]));
      vals.push(Float32Array.from(per[b], (i) => h.data[b * dSae + i]));
    }
  } else {
    for (let b = 0; b < B; b++) {
      const row = h.data.subarray(b * dSae, (b + 1) * dSae);
      let chosen: number[];
      if (arch === "topk") {
        chosen = largest(row, options.k ?? 1).filter((i) => row[i] > 0).sort((p, q) => p - q);
      } else {
        chosen = [];
        for (let i = 0; i < dSae; i++) {
          const v = row[i];
          if (v > 0 && (arch === "relu" || v > theta![i])) chosen.push(i);
        }
      }

      ids.push(Int32Array.from(chosen));
      vals.push(Float32Array.from(chosen, (i) => row[i]));
    }
  }
  const active: Active = { ids, values: vals };

  // x^ = f @ W_dec + b_dec (sparse sum of decoder rows)
  const recon = new Float32Array(B * dIn);
  for (let b = 0; b < B; b++) {
    const out = recon.subarray(b * dIn, (b + 1) * dIn);
    out.set(params.bDec);
    const ix = active.ids[b];
    for (let j = 0; j < ix.length; j++) {
      const v = active.values[b][j];
      const w = params.wDec.subarray(ix[j] * dIn, (ix[j] + 1) * dIn);
      for (let c = 0; c < dIn; c++) out[c] += v * w[c];
    }
  }
  // MSE = mean_b sum_c (x^ - x)^2; FVU against the batch mean.
  const { sst } = momentsOf(x);
  let sse = 0;
  const dR = new Float32Array(B * dIn); // dLoss/dx^
  for (let i = 0; i < B * dIn; i++) {
    const e = recon[i] - x.data[i];
    sse += e * e;
    dR[i] = (2 * e) / B;
  }
  const mse = sse / B;

  const grads = zeroGradients(params, options.gradients);
  // Decoder grads and dLoss/dh for active latents: dh = dR . W_dec[i] (+ sparsity terms).
  const dWencT = new Float32Array(dSae * dIn); // accumulated as [d_sae, d_in], transposed at the end
  let sparsityLoss = 0;
  const fired = new Uint32Array(dSae);
  let l0 = 0;
  for (let b = 0; b < B; b++) {
    const dr = dR.subarray(b * dIn, (b + 1) * dIn);
    const sb = s.data.subarray(b * dIn, (b + 1) * dIn);
    for (let c = 0; c < dIn; c++) grads.bDec[c] += dr[c];
    const ix = active.ids[b];
    l0 += ix.length;
    for (let j = 0; j < ix.length; j++) {
      const i = ix[j];
      fired[i]++;
      const v = active.values[b][j];
      const w = params.wDec.subarray(i * dIn, (i + 1) * dIn);
      const gw = grads.wDec.subarray(i * dIn, (i + 1) * dIn);
      let dh = 0;
      for (let c = 0; c < dIn; c++) {
        gw[c] += v * dr[c];
        dh += dr[c] * w[c];
      }
      if (arch === "relu") {
        sparsityLoss += (coef * v) / B;
        dh += coef / B;
      }
      const ge = dWencT.subarray(i * dIn, (i + 1) * dIn);
      for (let c = 0; c < dIn; c++) ge[c] += dh * sb[c];
      grads.bEnc[i] += dh;
    }
  }
  // JumpReLU: straight-through gradients of H(h - theta) for theta (and the L0 penalty).
  if (arch === "jumprelu") {
    const eps = options.bandwidth ?? 0.001;
    for (let b = 0; b < B; b++) {
      const dr = dR.subarray(b * dIn, (b + 1) * dIn);
      sparsityLoss += (coef * active.ids[b].length) / B;
      for (let i = 0; i < dSae; i++) {
        const hv = h.data[b * dSae + i];
        const t = theta![i];
        if (Math.abs((hv - t) / eps) > 0.5 || hv <= 0) continue;
        // d f/d theta ~ -(theta / eps) K; d H/d theta ~ -(1 / eps) K, K = 1 on |u| < 1/2.
        const w = params.wDec.subarray(i * dIn, (i + 1) * dIn);
        let dLdf = 0;
        for (let c = 0; c < dIn; c++) dLdf += dr[c] * w[c];
        const dTheta = dLdf * (-t / eps) + (coef / B) * (-1 / eps);
        grads.logThreshold[i] += dTheta * t;
      }
    }
  }

  // AuxK: dead latents reconstruct the residual e = x - x^ (held fixed).
  let auxLoss = 0;
  const dead = options.dead;
  const deadCount = dead ? dead.reduce((n, v) => n + v, 0) : 0;
  if ((arch === "topk" || arch === "batchtopk") && dead && deadCount > 0) {
    const kAux = Math.min(options.kAux ?? Math.floor(dIn / 2), deadCount);
    const alpha = options.auxAlpha ?? 1 / 32;
    // Residual and its total variance (per batch).
    const e = new Float32Array(B * dIn);
    const eMean = new Float64Array(dIn);
    for (let i = 0; i < B * dIn; i++) {
      e[i] = x.data[i] - recon[i];
      eMean[i % dIn] += e[i] / B;
    }
    let eVar = 0;
    for (let i = 0; i < B * dIn; i++) eVar += (e[i] - eMean[i % dIn]) ** 2;
    if (eVar > 0) {
      for (let b = 0; b < B; b++) {
        const row = h.data.subarray(b * dSae, (b + 1) * dSae);
        const chosen = largest(row, kAux, (i) => dead[i] === 1).filter((i) => row[i] > 0);
        const eb = e.subarray(b * dIn, (b + 1) * dIn);
        const diff = Float32Array.from(eb, (v) => -v); // aux_recon - e
        for (const i of chosen) {
          const w = params.wDec.subarray(i * dIn, (i + 1) * dIn);
          for (let c = 0; c < dIn; c++) diff[c] += row[i] * w[c];
        }
        let sq = 0;
        for (const v of diff) sq += v * v;
        auxLoss += (alpha * sq) / eVar;
        const sb = s.data.subarray(b * dIn, (b + 1) * dIn);
        for (const i of chosen) {
          const w = params.wDec.subarray(i * dIn, (i + 1) * dIn);
          const gw = grads.wDec.subarray(i * dIn, (i + 1) * dIn);
          let dh = 0;
          for (let c = 0; c < dIn; c++) {
            const g = (2 * alpha * diff[c]) / eVar;
            gw[c] += row[i] * g;
            dh += g * w[c];
          }
          const ge = dWencT.subarray(i * dIn, (i + 1) * dIn);
          for (let c = 0; c < dIn; c++) ge[c] += dh * sb[c];
          grads.bEnc[i] += dh;
        }
      }
    }
  }

  // W_enc gradient from its transpose; b_dec also enters through s = x - b_dec:
  // d/db_dec (via s) = -W_enc @ (sum_b dL/dh_b) = -W_enc @ grad(b_enc).
  grads.wEnc.set(transpose(dWencT, { rows: dSae, cols: dIn }));
  for (let c = 0; c < dIn; c++) {
    let acc = 0;
    for (let i = 0; i < dSae; i++) acc += params.wEnc[c * dSae + i] * grads.bEnc[i];
    grads.bDec[c] -= acc;
  }
  return {
    loss: mse + sparsityLoss + auxLoss,
    mse,
    sparsityLoss,
    auxLoss,
    fvu: sst > 0 ? sse / sst : 0,
    l0: l0 / B,
    fired,
    minSelected,
    grads,
  };
}

/** b_enc - b_dec @ W_enc: the encoder bias seen by unshifted inputs (accumulated in f64). */
function encoderBias(params: SaeParams): Float32Array {
  const { dIn, dSae } = params;
  const acc = Float64Array.from(params.bEnc);
  for (let c = 0; c < dIn; c++) {
    const bc = params.bDec[c];
    if (bc === 0) continue;
    const o = c * dSae;
    for (let i = 0; i < dSae; i++) acc[i] -= bc * params.wEnc[o + i];
  }
  return Float32Array.from(acc);
}

function addRow(data: Float32Array, offset: number, row: Float32Array): void {
  for (let i = 0; i < row.length; i++) data[offset + i] += row[i];
}

/** How many entries of `h` ([rows, thresholds.length]) exceed both 0 and their threshold. */
function countActive(h: Float32Array, thresholds: Float32Array): number {
  const n = thresholds.length;
  let count = 0;
  for (let at = 0; at < h.length; at += n) {
    for (let i = 0; i < n; i++) {
      const v = h[at + i];
      if (v > 0 && v > thresholds[i]) count++;
    }
  }
  return count;
}
