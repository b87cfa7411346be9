/**
 * The training objective's codes between the kernels and the host: per-row selections read out
 * of (and written into) the kernels' memory, and the active entries regrouped by latent for the
 * backward pass (each latent's rows in increasing order, TopK entries before AuxK ones).
 * @module
 */

import type { SharedHeap } from "./heap.ts";
import type { CallContext } from "./ops.ts";
import { allocSelections, type HeapSelections } from "./train_kernels.ts";

/** Per-row codes: latent indices and their activations. */
export type CodeRows = readonly { readonly idx: Int32Array; readonly vals: Float32Array }[];

/** Copies of the first `rows` rows of `sel`. */
export function heapRows(
  heap: SharedHeap,
  sel: HeapSelections,
  options: { rows: number },
): { idx: Int32Array; vals: Float32Array }[] {
  const { rows } = options;
  const counts = heap.i32(sel.cnt, rows);
  const out: { idx: Int32Array; vals: Float32Array }[] = [];
  for (let r = 0; r < rows; r++) {
    const at = r * sel.stride * 4;
    out.push({
      idx: heap.i32(sel.idx + at, counts[r]).slice(),
      vals: heap.f32(sel.vals + at, counts[r]).slice(),
    });
  }
  return out;
}

/** `codes` written into new selections in the kernels' memory (stride: the longest row). */
export function writeCodes(ctx: CallContext, codes: CodeRows): HeapSelections {
  let widest = 0;
  for (const r of codes) widest = Math.max(widest, r.idx.length);
  const sel = allocSelections(ctx, { rows: codes.length, stride: widest });
  const counts = ctx.heap.i32(sel.cnt, codes.length);
  codes.forEach((r, b) => {
    counts[b] = r.idx.length;
    ctx.heap.i32(sel.idx + b * widest * 4, r.idx.length).set(r.idx);
    ctx.heap.f32(sel.vals + b * widest * 4, r.vals.length).set(r.vals);
  });
  return sel;
}

/** The entries by latent, in the kernels' memory, and how often each latent fired (TopK). */
export interface LatentEntries {
  readonly heap: { readonly cptr: number; readonly erow: number; readonly eval: number };
  /** Per latent: rows of the main codes it is active in. */
  readonly fired: Uint32Array;
}

/**
 * Regroup `main` (gradient rows 0..rows-1) and `aux` (rows rows..2 rows-1) codes by latent: a
 * counting sort that keeps, per latent, main entries by row, then aux entries by row.
 */
export function byLatent(
  ctx: CallContext,
  options: { n: number; rows: number; main: CodeRows; aux: CodeRows },
): LatentEntries {
  const { n, rows, main, aux } = options;
  const fired = new Uint32Array(n);
  const start = new Int32Array(n + 1);
  let total = 0;
  for (const r of main) {
    for (const i of r.idx) fired[i]++;
    total += r.idx.length;
  }
  for (let i = 0; i < n; i++) start[i + 1] = fired[i];
  for (const r of aux) {
    for (const i of r.idx) start[i + 1]++;
    total += r.idx.length;
  }
  for (let i = 0; i < n; i++) start[i + 1] += start[i];
  const heap = ctx.heap;
  const cptr = ctx.alloc((n + 1) * 4);
  heap.i32(cptr, n + 1).set(start);
  const erowPtr = ctx.alloc(Math.max(1, total) * 4);
  const evalPtr = ctx.alloc(Math.max(1, total) * 4);
  const erow = heap.i32(erowPtr, total);
  const evals = heap.f32(evalPtr, total);
  const next = start.slice(0, n);
  const place = (codes: CodeRows, offset: number) => {
    codes.forEach((r, b) => {
      for (let j = 0; j < r.idx.length; j++) {
        const at = next[r.idx[j]]++;
        erow[at] = b + offset;
        evals[at] = r.vals[j];
      }
    });
  };
  place(main, 0);
  place(aux, rows);
  return { heap: { cptr, erow: erowPtr, eval: evalPtr }, fired };
}
