/**
 * The TopK / BatchTopK training objective on the WASM kernels (wasm/train_kernels.ts), one
 * kernel call per batch; domain/train/objective.ts holds the plain TypeScript reference it
 * matches. The batch goes into the kernels' memory once: s = x - b_dec, the encoder re-packed
 * into panels, the decoder. Then:
 *
 * 1. h = s @ W_enc + b_enc, tile by tile, each h pushed into its row's TopK (or BatchTopK
 *    candidate) and AuxK (dead latents) selections: the [batch, d_sae] h is never held whole.
 *    BatchTopK picks the batch's B k largest among the candidates (rows whose candidates may
 *    have missed some are encoded again with a larger cap).
 * 2. dR = 2 (codes @ W_dec + b_dec - x) / B per row, with its squared norm; AuxK's residual fit
 *    likewise from the dead latents' codes.
 * 3. The backward pass per active latent: dh = dR . W_dec[i], grad W_dec[i] += f dR,
 *    grad W_enc[:, i] += dh s, grad b_enc[i] += dh.
 * @module
 */

import type { CallOptions } from "../backend.ts";
import type { Matrix } from "../../domain/sae/matrix.ts";
import { momentsOf } from "../../domain/train/dense_objective.ts";
import {
  type BatchResult,
  type ObjectiveOptions,
  type SaeParams,
  zeroGradients,
} from "../../domain/train/params.ts";
import type { KernelCalls } from "./calls.ts";
import type { CallContext } from "./ops.ts";
import { pad8 } from "./pack.ts";
import { batchTopK, type RowCandidates } from "./train_batch_topk.ts";
import { byLatent, type CodeRows, heapRows, writeCodes } from "./train_codes.ts";
import {
  allocSelections,
  backwardLatents,
  decodeRows,
  encodeSelect,
  type HeapSelections,
  packPanels,
  transposeHeap,
} from "./train_kernels.ts";

/** BatchTopK keeps this many candidates per row at first (times k). */
const BATCH_CANDIDATES = 4;

/** Whether the kernels compute this architecture's objective. */
export function sparseArchitecture(options: ObjectiveOptions): boolean {
  return options.architecture === "topk" || options.architecture === "batchtopk";
}

/** The batch's loss and gradients (TopK or BatchTopK), computed by the kernels. */
export function sparseObjective(
  calls: KernelCalls,
  params: SaeParams,
  options: { x: Matrix; objective: ObjectiveOptions } & CallOptions,
): Promise<BatchResult> {
  const { x, objective } = options;
  if (!sparseArchitecture(objective)) {
    return Promise.reject(new RangeError(`no kernels for ${objective.architecture} training`));
  }
  if (x.cols !== params.dIn) {
    return Promise.reject(new RangeError(`batch of width ${x.cols} for d_in ${params.dIn}`));
  }
  return calls.call(options, (ctx) => objectiveCall(ctx, params, x, objective));
}

/** The operands in the kernels' memory. */
interface Operands {
  readonly ld: number;
  readonly npad: number;
  readonly s: number;
  readonly x: number;
  readonly bDec: number;
  readonly bias: number;
  readonly wDec: number;
  /** Panels during the forward pass; then the W_enc^T gradient [d_sae, ld]. */
  readonly panels: number;
  /** The row-major W_enc copy; then the W_dec gradient, then the W_enc gradient. */
  readonly stage: number;
}

/** Copy the batch and the parameters in (encoder re-packed into panels). */
async function load(ctx: CallContext, params: SaeParams, x: Matrix): Promise<Operands> {
  const { dIn, dSae } = params;
  const heap = ctx.heap;
  const B = x.rows;
  const ld = pad8(dIn);
  const npad = pad8(dSae);
  const vector = (v: Float32Array, length: number) => {
    const ptr = ctx.alloc(length * 4);
    const view = heap.f32(ptr, length);
    view.fill(0);
    view.set(v);
    return ptr;
  };
  const rowsIn = (data: Float32Array | null, rows: number, cols: number) => {
    const ptr = ctx.alloc(Math.max(1, rows * ld) * 4);
    const view = heap.f32(ptr, rows * ld);
    if (!data) return ptr;
    if (cols === ld) view.set(data);
    else {
      view.fill(0);
      for (let r = 0; r < rows; r++) view.set(data.subarray(r * cols, (r + 1) * cols), r * ld);
    }
    return ptr;
  };
  const xPtr = rowsIn(x.data, B, dIn);
  const sPtr = rowsIn(x.data, B, dIn);
  const s = heap.f32(sPtr, B * ld);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < dIn; c++) s[b * ld + c] -= params.bDec[c];
  }
  const stage = ctx.alloc(Math.max(1, dIn * npad, dSae * ld) * 4);
  const staged = heap.f32(stage, dIn * npad);
  if (npad === dSae) staged.set(params.wEnc);
  else {
    staged.fill(0);
    for (let c = 0; c < dIn; c++) {
      staged.set(params.wEnc.subarray(c * dSae, (c + 1) * dSae), c * npad);
    }
  }
  const panels = ctx.alloc(Math.max(1, npad * dIn, dSae * ld) * 4);
  await packPanels(ctx, stage, { k: dIn, ld: npad, n: dSae, dst: panels });
  return {
    ld,
    npad,
    s: sPtr,
    x: xPtr,
    bDec: vector(params.bDec, ld),
    bias: vector(params.bEnc, npad),
    wDec: rowsIn(params.wDec, dSae, dIn),
    panels,
    stage,
  };
}

/** The main codes (TopK, or BatchTopK over the batch) and the AuxK codes, if any. */
interface Codes {
  readonly main: HeapSelections;
  readonly aux: HeapSelections | null;
  readonly minSelected: number;
}

/** Step 1: the fused encode and the selections. */
async function encodePass(
  ctx: CallContext,
  ops: Operands,
  options: { params: SaeParams; rows: number; objective: ObjectiveOptions; kAux: number },
): Promise<Codes> {
  const { params, rows: B, objective, kAux } = options;
  const { dIn, dSae } = params;
  const k = Math.max(0, Math.min(objective.k ?? 1, dSae));
  const batch = objective.architecture === "batchtopk";
  let cap = batch ? Math.min(dSae, BATCH_CANDIDATES * Math.max(1, k)) : k;
  const main = allocSelections(ctx, { rows: B, stride: cap });
  let aux: { dead: number; sel: HeapSelections } | undefined;
  if (kAux > 0 && objective.dead) {
    const dead = ctx.alloc(ops.npad * 4);
    const words = ctx.heap.i32(dead, ops.npad);
    words.fill(0);
    for (let i = 0; i < dSae; i++) words[i] = objective.dead[i] ? -1 : 0;
    aux = { dead, sel: allocSelections(ctx, { rows: B, stride: kAux }) };
  }
  const common = { k: dIn, panels: ops.panels, n: dSae, bias: ops.bias };
  await encodeSelect(ctx, ops.s, { ...common, rows: B, lda: ops.ld, main, aux });
  if (!batch) return { main, aux: aux?.sel ?? null, minSelected: 0 };

  // BatchTopK: the batch's B k largest among the rows' candidates; rows that may have missed
  // some are encoded again with a larger cap until none may have.
  const candidates: RowCandidates[] = heapRows(ctx.heap, main, { rows: B }).map((r) => ({
    ...r,
    full: r.idx.length === cap && cap < dSae,
  }));
  const total = Math.min(B * k, B * dSae);
  let chosen = batchTopK(candidates, total);
  while (chosen.incomplete.length > 0) {
    cap = Math.min(dSae, cap * 8);
    const redo = chosen.incomplete;
    const a = ctx.alloc(redo.length * dIn * 4);
    const view = ctx.heap.f32(a, redo.length * dIn);
    const s = ctx.heap.f32(ops.s, B * ops.ld);
    redo.forEach((b, j) => view.set(s.subarray(b * ops.ld, b * ops.ld + dIn), j * dIn));
    const more = allocSelections(ctx, { rows: redo.length, stride: cap });
    await encodeSelect(ctx, a, { ...common, rows: redo.length, lda: dIn, main: more });
    heapRows(ctx.heap, more, { rows: redo.length }).forEach((r, j) => {
      candidates[redo[j]] = { ...r, full: r.idx.length === cap && cap < dSae };
    });
    chosen = batchTopK(candidates, total);
  }
  const codes: CodeRows = chosen.rows;
  return {
    main: writeCodes(ctx, codes),
    aux: aux?.sel ?? null,
    minSelected: chosen.minSelected,
  };
}

/** One batch: load, encode and select, decode, AuxK, backward, gradients out. */
async function objectiveCall(
  ctx: CallContext,
  params: SaeParams,
  x: Matrix,
  objective: ObjectiveOptions,
): Promise<BatchResult> {
  const { dIn, dSae } = params;
  const B = x.rows;
  const heap = ctx.heap;
  const dead = objective.dead;
  const deadCount = dead ? dead.reduce((n, v) => n + (v ? 1 : 0), 0) : 0;
  const kAux = deadCount > 0 ? Math.min(objective.kAux ?? Math.floor(dIn / 2), deadCount) : 0;
  const reuse = objective.gradients;
  if (reuse && (reuse.dIn !== dIn || reuse.dSae !== dSae)) {
    throw new RangeError(`gradients for ${reuse.dIn}x${reuse.dSae}, parameters ${dIn}x${dSae}`);
  }
  const ops = await load(ctx, params, x);
  const codes = await encodePass(ctx, ops, { params, rows: B, objective, kAux });
  const { ld } = ops;

  // Step 2: dR = 2 (x^ - x) / B into rows [0, B) of G; AuxK's scaled fit into rows [B, 2B).
  const g = ctx.alloc(Math.max(1, 2 * B * ld) * 4);
  const sq = ctx.alloc(Math.max(1, 2 * B) * 4);
  const rowsOf = { rows: B, ld, w: ops.wDec };
  await decodeRows(ctx, g, {
    ...rowsOf,
    codes: codes.main,
    bias: ops.bDec,
    y: ops.x,
    ys: -1,
    ao: 2 / B,
    sq,
  });
  let sse = 0;
  for (const v of heap.f32(sq, B)) sse += v;
  const dR = heap.f32(g, B * ld);
  let auxLoss = 0;
  let auxCodes: HeapSelections | null = null;
  if (deadCount > 0) {
    // The residual e = x - x^ = -(B / 2) dR and its total variance over the batch.
    const mean = new Float64Array(dIn);
    for (let b = 0; b < B; b++) for (let c = 0; c < dIn; c++) mean[c] += dR[b * ld + c];
    for (let c = 0; c < dIn; c++) mean[c] /= B;
    let spread = 0;
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < dIn; c++) spread += (dR[b * ld + c] - mean[c]) ** 2;
    }
    const eVar = spread * (B / 2) ** 2;
    if (eVar > 0) {
      const alpha = objective.auxAlpha ?? 1 / 32;
      auxCodes = codes.aux ?? allocSelections(ctx, { rows: B, stride: 0 });
      const auxSq = sq + B * 4;
      await decodeRows(ctx, g + B * ld * 4, {
        ...rowsOf,
        codes: auxCodes,
        bias: 0,
        y: g,
        ys: B / 2,
        ao: (2 * alpha) / eVar,
        sq: auxSq,
      });
      let sum = 0;
      for (const v of heap.f32(auxSq, B)) sum += v;
      auxLoss = (alpha * sum) / eVar;
    }
  }

  // Step 3: the backward pass over the active latents.
  const main = heapRows(heap, codes.main, { rows: B });
  const entries = byLatent(ctx, {
    n: dSae,
    rows: B,
    main,
    aux: auxCodes ? heapRows(heap, auxCodes, { rows: B }) : [],
  });
  // The W_dec gradient goes where the W_enc copy was (unused since the panels were packed),
  // the W_enc^T gradient where the panels were; then W_enc's is transposed into the former.
  const gw = ops.stage;
  const gb = ctx.alloc(Math.max(1, dSae) * 4);
  const ge = ops.panels;
  await backwardLatents(ctx, {
    n: dSae,
    ld,
    w: ops.wDec,
    g,
    s: ops.s,
    rows: B,
    ...entries.heap,
    gw,
    ge,
    gb,
  });
  // Every value is overwritten below but logThreshold (empty for TopK and BatchTopK).
  const grads = objective.gradients ?? zeroGradients(params);
  grads.logThreshold.fill(0);
  const gwView = heap.f32(gw, dSae * ld);
  if (ld === dIn) grads.wDec.set(gwView);
  else {
    for (let i = 0; i < dSae; i++) grads.wDec.set(gwView.subarray(i * ld, i * ld + dIn), i * dIn);
  }
  await transposeHeap(ctx, ge, { rows: dSae, cols: dIn, lds: ld, dst: ops.stage, ldd: dSae });
  grads.wEnc.set(heap.f32(ops.stage, dIn * dSae));
  grads.bEnc.set(heap.f32(gb, dSae));
  // b_dec: directly through x^ (column sums of dR), and through s = x - b_dec as
  // -W_enc @ grad(b_enc).
  const colSum = new Float64Array(dIn);
  for (let b = 0; b < B; b++) for (let c = 0; c < dIn; c++) colSum[c] += dR[b * ld + c];
  for (let c = 0; c < dIn; c++) {
    let acc = colSum[c];
    const o = c * dSae;
    for (let i = 0; i < dSae; i++) acc -= params.wEnc[o + i] * grads.bEnc[i];
    grads.bDec[c] = acc;
  }
  let l0 = 0;
  for (const r of main) l0 += r.idx.length;
  const { sst } = momentsOf(x);
  const mse = sse / B;
  return {
    loss: mse + auxLoss,
    mse,
    sparsityLoss: 0,
    auxLoss,
    fvu: sst > 0 ? sse / sst : 0,
    l0: l0 / B,
    fired: entries.fired,
    minSelected: codes.minSelected,
    grads,
  };
}
