/**
 * Training a sparse autoencoder: the library entry point behind `deno task train`.
 *
 * Rows are scaled so their mean norm is sqrt(d_in); b_dec starts at the rows' geometric median;
 * decoder rows start as random unit vectors with W_enc = W_dec^T, stay at unit norm (the
 * gradient's component along each row is removed before the step), and Adam runs with warmup
 * and a final linear decay (started early when the loss plateaus, if asked: see schedule.ts). TopK and BatchTopK add AuxK on dead latents; ReLU warms its L1
 * coefficient up; JumpReLU trains log-thresholds with straight-through gradients. The result is
 * folded back to the raw activation scale, ready to save as a SAELens folder.
 * @module
 */

import type { Cancellation } from "../cancellation.ts";

import type { Backend } from "../../backends/backend.ts";
import { type Matrix, matrix } from "../sae/matrix.ts";
import { Adam } from "./adam.ts";
import { lossAndGradients, type SaeParams, type TrainArchitecture } from "./objective.ts";
import { zeroGradients } from "./params.ts";
import { type PlateauOptions, RunSchedule } from "./schedule.ts";
import { gaussian, seededRandom } from "../random.ts";

/** Where training rows come from: an endless, shuffled stream of [batch, d_in] blocks. */
export interface RowSource {
  readonly dIn: number;
  /**
   * The next `rows` rows: a new array each call, or the very same unchanged array (full-batch
   * training; its scaled copy and transposes are then cached).
   */
  next(rows: number): Promise<Matrix>;
}

/** Training settings. */
export interface TrainOptions {
  readonly backend: Backend;
  readonly architecture: TrainArchitecture;
  readonly latents: number;
  /** Active latents (topk, batchtopk); default 32. */
  readonly k?: number;
  /** L1 (relu) or L0 (jumprelu) coefficient; defaults 5 and 0.001... see below. */
  readonly sparsityCoefficient?: number;
  /** Planned steps (the most the run takes). */
  readonly steps: number;
  readonly batch: number;
  readonly lr?: number;
  readonly seed?: number;
  /** Stop early when the loss plateaus (the final decay then starts); absent: never. */
  readonly plateau?: PlateauOptions | null;
  /** Warmup steps (default 5% of steps). */
  readonly warmupSteps?: number;
  /** Steps of final linear decay (default 20% of steps). */
  readonly decaySteps?: number;
  /** L1 coefficient warmup for relu (default 5% of steps). */
  readonly sparsityWarmupSteps?: number;
  /** A latent that has not fired for this many rows is dead (default 50 batches). */
  readonly deadAfterRows?: number;
  readonly bandwidth?: number;
  /** Called every `progressEvery` steps and at the end. */
  readonly onProgress?: (progress: TrainProgress) => void;
  readonly progressEvery?: number;
  /** Polled every step: stop when the work is abandoned. */
  readonly signal?: Cancellation;
}

/** One progress report. */
export interface TrainProgress {
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
  readonly mse: number;
  readonly fvu: number;
  readonly l0: number;
  readonly deadFraction: number;
  readonly lr: number;
  readonly stepsPerSecond: number;
}

/** What training produced. */
export interface TrainResult {
  /** Parameters at the raw activation scale (normalization folded in). */
  readonly params: SaeParams;
  /** The activation scale used during training (folded into params). */
  readonly scale: number;
  /** BatchTopK / JumpReLU inference threshold per latent, at the raw scale (else null). */
  readonly threshold: Float32Array | null;
  readonly curve: TrainProgress[];
  readonly final: { l0: number; fvu: number; deadFraction: number };
  /** Steps taken (fewer than planned after a plateau). */
  readonly steps: number;
  /** The step at which the loss plateaued and the final decay began, or null. */
  readonly plateauAt: number | null;
}

/** Geometric median of rows (Weiszfeld iterations from the mean). */
export function geometricMedian(x: Matrix, options?: { iterations?: number }): Float32Array {
  const d = x.cols;
  let m = new Float64Array(d);
  for (let r = 0; r < x.rows; r++) for (let c = 0; c < d; c++) m[c] += x.data[r * d + c] / x.rows;
  for (let it = 0; it < (options?.iterations ?? 20); it++) {
    const next = new Float64Array(d);
    let wsum = 0;
    for (let r = 0; r < x.rows; r++) {
      let dist = 0;
      for (let c = 0; c < d; c++) dist += (x.data[r * d + c] - m[c]) ** 2;
      const w = 1 / Math.max(Math.sqrt(dist), 1e-8);
      wsum += w;
      for (let c = 0; c < d; c++) next[c] += w * x.data[r * d + c];
    }
    for (let c = 0; c < d; c++) next[c] /= wsum;
    m = next;
  }
  return Float32Array.from(m);
}

function normalizeRows(w: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let sq = 0;
    for (let c = 0; c < cols; c++) sq += w[o + c] * w[o + c];
    const n = Math.sqrt(sq);
    if (n > 0) { for (let c = 0; c < cols; c++) w[o + c] /= n; }
  }
}

/** Remove from each decoder-row gradient its component along the (unit) row. */
function removeParallel(grad: Float32Array, w: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let c = 0; c < cols; c++) dot += grad[r * cols + c] * w[r * cols + c];
    for (let c = 0; c < cols; c++) grad[r * cols + c] -= dot * w[r * cols + c];
  }
}

/** Initial parameters for `dIn` x `latents` from seeded noise and the median `bDec`. */
export function initialParams(
  dIn: number,
  options: { latents: number; seed: number; bDec: Float32Array; logThreshold?: number },
): SaeParams {
  const n = options.latents;
  const g = gaussian(seededRandom(options.seed));
  const wDec = Float32Array.from({ length: n * dIn }, g);
  normalizeRows(wDec, n, dIn);
  const wEnc = new Float32Array(dIn * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < dIn; c++) wEnc[c * n + i] = wDec[i * dIn + c];
  return {
    dIn,
    dSae: n,
    wEnc,
    bEnc: new Float32Array(n),
    wDec,
    bDec: options.bDec.slice(),
    logThreshold: options.logThreshold === undefined
      ? new Float32Array(0)
      : new Float32Array(n).fill(options.logThreshold),
  };
}

/** Train a dictionary on `source`. */
export async function trainSae(source: RowSource, options: TrainOptions): Promise<TrainResult> {
  const { backend, architecture: arch, batch } = options;
  const steps = options.steps;
  const dIn = source.dIn;
  const k = options.k ?? 32;
  if (
    (arch === "topk" || arch === "batchtopk") &&
    !(Number.isInteger(k) && k >= 1 && k <= options.latents)
  ) {
    // The dictionary it would write could not be loaded (cfg.json's k must lie in [1, d_sae]).
    throw new RangeError(`k must be an integer from 1 to latents (${options.latents}), not ${k}`);
  }
  const coef = options.sparsityCoefficient ??
    (arch === "relu" ? 5 : arch === "jumprelu" ? 0.001 : 0);
  const lr = options.lr ?? 4e-4;
  const schedule = new RunSchedule({
    lr,
    steps,
    warmup: options.warmupSteps,
    decay: options.decaySteps,
    plateau: options.plateau,
  });
  const sparsityWarmup = options.sparsityWarmupSteps ?? Math.floor(steps * 0.05);
  const deadAfter = options.deadAfterRows ?? 50 * batch;
  const every = options.progressEvery ?? Math.max(1, Math.floor(steps / 100));

  // Scale rows to mean norm sqrt(d_in) and start b_dec at their geometric median.
  const sample = await source.next(Math.max(batch, 1024));
  let normSum = 0;
  for (let r = 0; r < sample.rows; r++) {
    let sq = 0;
    for (let c = 0; c < dIn; c++) sq += sample.data[r * dIn + c] ** 2;
    normSum += Math.sqrt(sq);
  }
  const scale = normSum > 0 ? Math.sqrt(dIn) / (normSum / sample.rows) : 1;
  // The scaled copy of the last batch, reused when the source hands back the same array
  // (full-batch training). A new batch is scaled into the previous copy's memory (fresh memory
  // costs page faults every step) under a new view, so caches keyed by the array start afresh.
  let copy: { from: Float32Array; out: Matrix } | null = null;
  const scaled = (m: Matrix): Matrix => {
    if (copy?.from === m.data) return copy.out;
    const n = m.data.length;
    const old = copy?.out.data.buffer;
    const data = new Float32Array(old && old.byteLength === n * 4 ? old : new ArrayBuffer(n * 4));
    for (let i = 0; i < n; i++) data[i] = m.data[i] * scale;
    copy = { from: m.data, out: matrix([m.rows, m.cols], data) };
    return copy.out;
  };
  const params = initialParams(dIn, {
    latents: options.latents,
    seed: options.seed ?? 0,
    bDec: geometricMedian(scaled(sample)),
    logThreshold: arch === "jumprelu" ? Math.log(0.001 * Math.sqrt(dIn)) : undefined,
  });

  const adam = new Adam();
  // Gradient arrays reused every step (fresh ones would cost page faults each step).
  const gradients = zeroGradients(params);
  const sinceFired = new Float64Array(options.latents);
  let batchThreshold = 0;
  const curve: TrainProgress[] = [];
  const started = performance.now();
  let last = { l0: 0, fvu: 0, deadFraction: 0 };
  for (let step = 0; step < schedule.steps; step++) {
    options.signal?.throwIfAborted();
    const x = scaled(await source.next(batch));
    const dead = Uint8Array.from(sinceFired, (t) => (t >= deadAfter ? 1 : 0));
    const result = await lossAndGradients(backend, { params, x }, {
      architecture: arch,
      k,
      sparsityCoefficient: coef *
        (sparsityWarmup > 0 ? Math.min(1, (step + 1) / sparsityWarmup) : 1),
      bandwidth: options.bandwidth ?? 0.001 * Math.sqrt(dIn),
      dead,
      gradients,
    });
    for (let i = 0; i < sinceFired.length; i++) {
      sinceFired[i] = result.fired[i] > 0 ? 0 : sinceFired[i] + batch;
    }
    if (arch === "batchtopk" && result.minSelected > 0) {
      batchThreshold = step === 0
        ? result.minSelected
        : 0.99 * batchThreshold + 0.01 * result.minSelected;
    }
    const g = result.grads;
    removeParallel(g.wDec, params.wDec, options.latents, dIn);
    const rate = schedule.rateAt(step);
    const entries: [string, Float32Array, Float32Array][] = [
      ["wEnc", params.wEnc, g.wEnc],
      ["bEnc", params.bEnc, g.bEnc],
      ["wDec", params.wDec, g.wDec],
      ["bDec", params.bDec, g.bDec],
    ];
    if (arch === "jumprelu") entries.push(["logThreshold", params.logThreshold, g.logThreshold]);
    adam.step(entries, rate);
    normalizeRows(params.wDec, options.latents, dIn);
    const deadFraction = dead.reduce((n, v) => n + v, 0) / options.latents;
    last = { l0: result.l0, fvu: result.fvu, deadFraction };
    schedule.observe(step, result.loss);
    if ((step + 1) % every === 0 || step === schedule.steps - 1) {
      const progress: TrainProgress = {
        step: step + 1,
        steps: schedule.steps,
        loss: result.loss,
        mse: result.mse,
        fvu: result.fvu,
        l0: result.l0,
        deadFraction,
        lr: rate,
        stepsPerSecond: (step + 1) / ((performance.now() - started) / 1000),
      };
      curve.push(progress);
      options.onProgress?.(progress);
    }
  }
  return {
    ...fold(params, scale, arch, batchThreshold),
    scale,
    curve,
    final: last,
    steps: schedule.steps,
    plateauAt: schedule.plateauAt,
  };
}

/**
 * Fold the activation scale c into the weights: with s = x c - b, h = (x - b / c)(c W_enc) +
 * b_enc and x^ = f (W_dec / c) + b / c. Thresholds compare h, so they are unchanged.
 */
function fold(
  params: SaeParams,
  c: number,
  arch: TrainArchitecture,
  batchThreshold: number,
): { params: SaeParams; threshold: Float32Array | null } {
  const folded: SaeParams = {
    ...params,
    wEnc: params.wEnc.map((v) => v * c),
    wDec: params.wDec.map((v) => v / c),
    bDec: params.bDec.map((v) => v / c),
    bEnc: params.bEnc.slice(),
    logThreshold: params.logThreshold.slice(),
  };
  let threshold: Float32Array | null = null;
  if (arch === "jumprelu") threshold = params.logThreshold.map(Math.exp);
  if (arch === "batchtopk") threshold = new Float32Array(params.dSae).fill(batchThreshold);
  return { params: folded, threshold };
}
