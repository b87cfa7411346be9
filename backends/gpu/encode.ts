/**
 * Encode on the GPU: the GEMM with the activation fused into its epilogue, then a multi-level
 * partial top-k in workgroup memory, so only each row's selected indices and values come back.
 * Unbounded or very wide selections read the scores back instead; groupmax (which needs whole
 * groups), tanh_relu and topk_signed (no epilogue) read raw pre-activations back and apply the
 * activation on the host.
 * @module
 */

import type { EncodeOptions } from "../backend.ts";
import { activateRows } from "../../domain/sae/activation.ts";
import { type Matrix, matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import { topK } from "../../domain/sae/top_k.ts";
import { storage, uniform, upload, write } from "./buffers.ts";
import { dispatch } from "./passes.ts";
import type { GpuPrepared, KeptPlan } from "./prepare.ts";
import { withPlan } from "./kept_plans.ts";
import { EPILOGUE, EXCLUDED, SELECT_BLOCK, SKINNY_MAX_ROWS } from "./wgsl.ts";

/** Largest top-k selected on the GPU; wider selections read the scores back. */
export const MAX_GPU_K = SELECT_BLOCK / 2;

/** Rows per batch block so that a block's dense scores [rows, dSae] fit one binding. */
export function blockRows(dSae: number, options: { maxBinding: number }): number {
  return Math.max(1, Math.min(65535, Math.floor(options.maxBinding / (dSae * 4))));
}

/** Dense scores [rows, dSae] of a block of rows (EXCLUDED where inactive, or raw with act none). */
async function scores(p: GpuPrepared, s: Matrix, act: number): Promise<Float32Array> {
  const { kernels, weights: w } = p;
  const out = storage(kernels.device, s.rows * w.dSae * 4);
  const a = upload(kernels.device, s.data);
  try {
    const [h] = await kernels.run((recording) => {
      kernels.gemm(recording, {
        a,
        weights: true,
        m: s.rows,
        k: w.dIn,
        lda: w.dIn,
        chunks: p.encoder,
        c: out,
        ldc: w.dSae,
        act,
        epilogue: p.epilogue,
      });
      return [{ buffer: out, bytes: s.rows * w.dSae * 4 }];
    });
    return new Float32Array(h);
  } finally {
    a.destroy();
    out.destroy();
  }
}

/** Encode a block of rows whose scores fit one binding, selecting `cap` per row on the GPU. */
async function encodeBlock(
  p: GpuPrepared,
  s: Matrix,
  options: { act: number; cap: number },
): Promise<SparseRows> {
  const { act, cap } = options;
  const { kernels, weights: w } = p;
  const device = kernels.device;
  const n = w.dSae;
  const m = s.rows;
  const indices: Int32Array[] = [];
  const values: Float32Array[] = [];
  if (cap === 0 || cap > MAX_GPU_K) {
    // Unbounded (or very wide) selections: every active latent comes back.
    const h = await scores(p, s, act);
    for (let r = 0; r < m; r++) {
      const rowScores = h.subarray(r * n, (r + 1) * n);
      const chosen = topK(rowScores, cap === 0 ? n : cap, { keep: (v) => v > EXCLUDED / 2 });
      indices.push(chosen.indices);
      values.push(chosen.values);
    }
    return { width: n, indices, values };
  }
  const [vBytes, ixBytes] = await withPlan(p, `encode:${m}:${cap}:${act}`, {
    keep: m <= SKINNY_MAX_ROWS,
    make: () => selectionPlan(p, m, { act, cap }),
    use: (held) => {
      write(device, { buffer: held.inputs[0], data: s.data });
      return kernels.play(held.plan);
    },
  });
  const v = new Float32Array(vBytes);
  const ix = new Uint32Array(ixBytes);
  for (let r = 0; r < m; r++) {
    let kept = 0;
    while (kept < cap && v[r * cap + kept] > EXCLUDED / 2) kept++;
    values.push(v.slice(r * cap, r * cap + kept));
    indices.push(Int32Array.from(ix.subarray(r * cap, r * cap + kept)));
  }
  return { width: n, indices, values };
}

/**
 * The recorded work of encoding `m` rows with selection on the GPU: the GEMM with its epilogue
 * into dense scores, then partial top-k levels until one block remains. The plan owns its
 * input, score and level buffers; rows go into `input` before each submission.
 */
async function selectionPlan(
  p: GpuPrepared,
  m: number,
  options: { act: number; cap: number },
): Promise<KeptPlan> {
  const { act, cap } = options;
  const { kernels, weights: w } = p;
  const device = kernels.device;
  const n = w.dSae;
  let input!: GPUBuffer;
  const plan = await kernels.record((recording) => {
    input = recording.temp(storage(device, m * w.dIn * 4));
    const h = recording.temp(storage(device, m * n * 4));
    kernels.gemm(recording, {
      a: input,
      weights: true,
      m,
      k: w.dIn,
      lda: w.dIn,
      chunks: p.encoder,
      c: h,
      ldc: n,
      act,
      epilogue: p.epilogue,
    });
    let vals = h;
    let idx = kernels.dummy;
    let implicit = 1;
    let count = n;
    let blocks = Math.ceil(count / SELECT_BLOCK);
    while (true) {
      const outLd = blocks * cap;
      const outVals = recording.temp(storage(device, m * outLd * 4));
      const outIdx = recording.temp(storage(device, m * outLd * 4));
      const params = recording.temp(uniform(device, [count, count, cap, outLd, implicit, 0]));
      dispatch(recording, kernels.select, {
        buffers: [vals, idx, outVals, outIdx, params],
        groups: [blocks, m],
      });
      if (blocks === 1) {
        return [{ buffer: outVals, bytes: m * cap * 4 }, { buffer: outIdx, bytes: m * cap * 4 }];
      }
      vals = outVals;
      idx = outIdx;
      implicit = 0;
      count = outLd;
      blocks = Math.ceil(count / SELECT_BLOCK);
    }
  });
  return { inputs: [input], plan, bytes: plan.temps.reduce((n, b) => n + b.size, 0), busy: false };
}

/** Encode rows `s` (normalized, pre-bias-subtracted) with the dictionary `p`. */
export async function encodeRows(
  p: GpuPrepared,
  s: Matrix,
  options?: EncodeOptions,
): Promise<SparseRows> {
  const a = p.weights.activation;
  const dSae = p.weights.dSae;
  const top = options?.top;
  const indices: Int32Array[] = [];
  const values: Float32Array[] = [];
  const per = blockRows(dSae, p.kernels);
  for (let r0 = 0; r0 < s.rows; r0 += per) {
    const block = matrix(
      [Math.min(per, s.rows - r0), s.cols],
      s.data.subarray(r0 * s.cols, Math.min(s.rows, r0 + per) * s.cols),
    );
    let out: SparseRows;
    switch (a.kind) {
      case "relu":
        out = await encodeBlock(p, block, { act: EPILOGUE.relu, cap: top ?? 0 });
        break;
      case "jumprelu":
        out = await encodeBlock(p, block, { act: EPILOGUE.jumprelu, cap: top ?? 0 });
        break;
      case "gated":
        out = await encodeBlock(p, block, { act: EPILOGUE.gated, cap: top ?? 0 });
        break;
      case "topk":
        out = await encodeBlock(p, block, { act: EPILOGUE.relu, cap: Math.min(a.k, top ?? a.k) });
        break;
      case "groupmax":
      case "tanh_relu":
      case "topk_signed": {
        // Whole groups (groupmax) or an activation without an epilogue (tanh, unrectified
        // top-k): raw scores come back and the shared activation runs here.
        const pre = await scores(p, block, EPILOGUE.none);
        out = activateRows(a, matrix([block.rows, dSae], pre), { top });
      }
    }
    indices.push(...out.indices);
    values.push(...out.values);
  }
  return { width: dSae, indices, values };
}
