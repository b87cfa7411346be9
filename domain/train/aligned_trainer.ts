/**
 * Training aligned dictionaries (SPARC): per-stream encoders and decoders into one shared latent
 * space, global or local TopK, loss = mean_s NMSE(self) + cross * mean_{s != t} NMSE(x^_{t<-s},
 * x_t) + (1/32) AuxK NMSE on dead latents (dead: no activation > 1e-3 for `deadAfterSteps`
 * steps), NMSE = sum (a - x)^2 / sum x^2; unit-norm decoder rows (latent directions), Adam. The
 * selection is held fixed in the backward pass; the sparse sums run here, the encoder GEMM on
 * the backend.
 * @module
 */

import type { Backend } from "../../backends/backend.ts";
import type { AlignedDictionary, AlignedStream } from "../sae/aligned.ts";
import { type Matrix, matrix } from "../sae/matrix.ts";
import { topK } from "../sae/top_k.ts";
import { Adam } from "./adam.ts";
import { type PlateauOptions, RunSchedule } from "./schedule.ts";
import { gaussian, seededRandom } from "../random.ts";

/** Paired rows of every stream, same count. */
export interface AlignedRowSource {
  readonly streams: { name: string; d: number }[];
  /** The next `rows` rows of every stream (row r of each is the same item). */
  next(rows: number): Promise<Map<string, Matrix>>;
}

/** Settings. */
export interface AlignedTrainOptions {
  readonly backend: Backend;
  readonly latents: number;
  readonly k: number;
  readonly topk: "global" | "local";
  /** Weight of the cross-reconstruction term (0: none). */
  readonly cross: number;
  /** AuxK latents per row (0: none). */
  readonly auxk?: number;
  /** Planned steps (the most the run takes). */
  readonly steps: number;
  readonly batch: number;
  /** Peak learning rate (default 1e-3). */
  readonly lr?: number;
  /** Linear warmup steps (default 0). */
  readonly warmupSteps?: number;
  /** Final linear decay steps (default 0: constant rate). */
  readonly decaySteps?: number;
  /** Stop early when the loss plateaus (the final decay then starts); absent: never. */
  readonly plateau?: PlateauOptions | null;
  readonly seed?: number;
  readonly deadAfterSteps?: number;
  readonly onProgress?: (p: AlignedProgress) => void;
}

/** One step's report. */
export interface AlignedProgress {
  readonly step: number;
  /** Steps the run now takes (fewer than planned after a plateau). */
  readonly steps: number;
  readonly loss: number;
  readonly deadFraction: number;
  readonly lr: number;
}

/** What aligned training produced. */
export interface AlignedTrainResult {
  readonly dictionary: AlignedDictionary;
  /** The last step's loss. */
  readonly loss: number;
  /** Steps taken. */
  readonly steps: number;
  /** The step at which the loss plateaued and the final decay began, or null. */
  readonly plateauAt: number | null;
}

function normalizeRows(w: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    let sq = 0;
    for (let c = 0; c < cols; c++) sq += w[r * cols + c] ** 2;
    const n = Math.sqrt(sq);
    if (n > 0) { for (let c = 0; c < cols; c++) w[r * cols + c] /= n; }
  }
}

/** Train an aligned dictionary; returns it with its final loss. */
export async function trainAligned(
  source: AlignedRowSource,
  options: AlignedTrainOptions,
): Promise<AlignedTrainResult> {
  const L = options.latents;
  const g = gaussian(seededRandom(options.seed ?? 0));
  const first = await source.next(Math.max(options.batch, 256));
  const streams: AlignedStream[] = source.streams.map(({ name, d }) => {
    const wDec = Float32Array.from({ length: L * d }, g);
    normalizeRows(wDec, L, d);
    const wEnc = new Float32Array(d * L);
    for (let i = 0; i < L; i++) for (let c = 0; c < d; c++) wEnc[c * L + i] = wDec[i * d + c];
    const x = first.get(name)!;
    const bPre = new Float32Array(d);
    for (let r = 0; r < x.rows; r++) {
      for (let c = 0; c < d; c++) bPre[c] += x.data[r * d + c] / x.rows;
    }
    return { name, d, wEnc, bPre, bLat: new Float32Array(L), wDec };
  });
  const adam = new Adam();
  const lastFired = new Float64Array(L); // step of the last activation > 1e-3 (any stream)
  const deadAfter = options.deadAfterSteps ?? 1000;
  const S = streams.length;
  let loss = 0;
  const schedule = new RunSchedule({
    lr: options.lr ?? 1e-3,
    steps: options.steps,
    warmup: options.warmupSteps ?? 0,
    decay: options.decaySteps ?? 0,
    plateau: options.plateau,
  });
  for (let step = 0; step < schedule.steps; step++) {
    const batch = await source.next(options.batch);
    const B = options.batch;
    // Forward: pre-activations per stream.
    const h = new Map<string, Float32Array>();
    for (const s of streams) {
      const x = batch.get(s.name)!;
      const centred = matrix([B, s.d], Float32Array.from(x.data, (v, i) => v - s.bPre[i % s.d]));
      const pre = await options.backend.matmul(centred, matrix([s.d, L], s.wEnc));
      for (let r = 0; r < B; r++) for (let i = 0; i < L; i++) pre.data[r * L + i] += s.bLat[i];
      h.set(s.name, pre.data);
    }
    // Selection per row: shared (global) or per stream (local).
    const selected = new Map<string, Int32Array[]>(streams.map((s) => [s.name, []]));
    const sum = new Float32Array(L);
    for (let r = 0; r < B; r++) {
      let shared: Int32Array | null = null;
      if (options.topk === "global") {
        sum.fill(0);
        for (const s of streams) {
          const hs = h.get(s.name)!;
          for (let i = 0; i < L; i++) sum[i] += hs[r * L + i];
        }
        shared = topK(sum, options.k).indices;
      }
      for (const s of streams) {
        const hs = h.get(s.name)!.subarray(r * L, (r + 1) * L);
        const idx = shared ?? topK(hs, options.k).indices;
        selected.get(s.name)!.push(Int32Array.from([...idx].filter((i) => hs[i] > 0)));
      }
    }
    const dead = Uint8Array.from(lastFired, (t) => (step - t >= deadAfter ? 1 : 0));
    // Gradients.
    const grads = new Map(streams.map((s) => [s.name, {
      wEnc: new Float32Array(s.d * L),
      bPre: new Float32Array(s.d),
      bLat: new Float32Array(L),
      wDec: new Float32Array(L * s.d),
    }]));
    const energy = new Map(streams.map((s) => {
      const x = batch.get(s.name)!;
      let e = 0;
      for (const v of x.data) e += v * v;
      return [s.name, Math.max(e, 1e-12)];
    }));
    const pairs = S * (S - 1);
    loss = 0;
    // dh accumulators per stream (sparse: map from flat index to value).
    const dh = new Map(streams.map((s) => [s.name, new Float32Array(B * L)]));
    for (const src of streams) {
      const hs = h.get(src.name)!;
      for (const tgt of streams) {
        const self = src === tgt;
        if (!self && options.cross === 0) continue;
        const weight = self ? 1 / S : options.cross / pairs;
        const x = batch.get(tgt.name)!;
        const e = energy.get(tgt.name)!;
        const gt = grads.get(tgt.name)!;
        for (let r = 0; r < B; r++) {
          const ix = selected.get(src.name)![r];
          // x^ = z @ W_dec_t + b_pre_t
          const diff = new Float64Array(tgt.d);
          for (let c = 0; c < tgt.d; c++) diff[c] = tgt.bPre[c] - x.data[r * tgt.d + c];
          for (const i of ix) {
            const v = hs[r * L + i];
            for (let c = 0; c < tgt.d; c++) diff[c] += v * tgt.wDec[i * tgt.d + c];
          }
          let sq = 0;
          for (let c = 0; c < tgt.d; c++) sq += diff[c] * diff[c];
          loss += (weight * sq) / e;
          const scale = (2 * weight) / e;
          for (let c = 0; c < tgt.d; c++) gt.bPre[c] += scale * diff[c];
          const dhs = dh.get(src.name)!;
          for (const i of ix) {
            const v = hs[r * L + i];
            let dz = 0;
            for (let c = 0; c < tgt.d; c++) {
              gt.wDec[i * tgt.d + c] += scale * diff[c] * v;
              dz += scale * diff[c] * tgt.wDec[i * tgt.d + c];
            }
            dhs[r * L + i] += dz;
          }
        }
      }
      // AuxK: dead latents of this stream reconstruct its self residual.
      const kAux = options.auxk ?? 0;
      if (kAux > 0 && dead.some((v) => v)) {
        const x = batch.get(src.name)!;
        const e = energy.get(src.name)!;
        const gs = grads.get(src.name)!;
        const dhs = dh.get(src.name)!;
        for (let r = 0; r < B; r++) {
          const row = hs.subarray(r * L, (r + 1) * L);
          const chosen = [...topK(row, kAux, { keep: (v, i) => dead[i] === 1 && v > 0 }).indices];
          if (!chosen.length) continue;
          // residual of the self reconstruction (held fixed)
          const resid = new Float64Array(src.d);
          for (let c = 0; c < src.d; c++) resid[c] = x.data[r * src.d + c] - src.bPre[c];
          for (const i of selected.get(src.name)![r]) {
            for (let c = 0; c < src.d; c++) resid[c] -= row[i] * src.wDec[i * src.d + c];
          }
          const diff = Float64Array.from(resid, (v) => -v);
          for (const i of chosen) {
            for (let c = 0; c < src.d; c++) diff[c] += row[i] * src.wDec[i * src.d + c];
          }
          let sq = 0;
          for (const v of diff) sq += v * v;
          const w = 1 / 32 / S;
          loss += (w * sq) / e;
          const scale = (2 * w) / e;
          for (const i of chosen) {
            let dz = 0;
            for (let c = 0; c < src.d; c++) {
              gs.wDec[i * src.d + c] += scale * diff[c] * row[i];
              dz += scale * diff[c] * src.wDec[i * src.d + c];
            }
            dhs[r * L + i] += dz;
          }
        }
      }
    }
    // Encoder grads from dh: dW_enc = (x - b_pre)^T dh, db_lat = sum dh, db_pre -= W_enc dh-sum.
    for (const s of streams) {
      const gs = grads.get(s.name)!;
      const dhs = dh.get(s.name)!;
      const x = batch.get(s.name)!;
      for (let r = 0; r < B; r++) {
        for (let i = 0; i < L; i++) {
          const g0 = dhs[r * L + i];
          if (g0 === 0) continue;
          gs.bLat[i] += g0;
          for (let c = 0; c < s.d; c++) {
            gs.wEnc[c * L + i] += (x.data[r * s.d + c] - s.bPre[c]) * g0;
          }
        }
      }
      for (let c = 0; c < s.d; c++) {
        let acc = 0;
        for (let i = 0; i < L; i++) acc += s.wEnc[c * L + i] * gs.bLat[i];
        gs.bPre[c] -= acc;
      }
      // Keep decoder rows unit norm: drop the gradient's component along each row.
      for (let i = 0; i < L; i++) {
        let dot = 0;
        for (let c = 0; c < s.d; c++) dot += gs.wDec[i * s.d + c] * s.wDec[i * s.d + c];
        for (let c = 0; c < s.d; c++) gs.wDec[i * s.d + c] -= dot * s.wDec[i * s.d + c];
      }
    }
    for (const s of streams) {
      const hs = h.get(s.name)!;
      for (let r = 0; r < B; r++) {
        for (const i of selected.get(s.name)![r]) if (hs[r * L + i] > 1e-3) lastFired[i] = step;
      }
    }
    const entries: [string, Float32Array, Float32Array][] = [];
    for (const s of streams) {
      const gs = grads.get(s.name)!;
      entries.push([`${s.name}.wEnc`, s.wEnc, gs.wEnc], [`${s.name}.bPre`, s.bPre, gs.bPre], [
        `${s.name}.bLat`,
        s.bLat,
        gs.bLat,
      ], [
        `${s.name}.wDec`,
        s.wDec,
        gs.wDec,
      ]);
    }
    const rate = schedule.rateAt(step);
    adam.step(entries, rate);
    for (const s of streams) normalizeRows(s.wDec, L, s.d);
    schedule.observe(step, loss);
    options.onProgress?.({
      step: step + 1,
      steps: schedule.steps,
      loss,
      deadFraction: dead.reduce((n, v) => n + v, 0) / L,
      lr: rate,
    });
  }
  return {
    dictionary: { latents: L, k: options.k, streams },
    loss,
    steps: schedule.steps,
    plateauAt: schedule.plateauAt,
  };
}
