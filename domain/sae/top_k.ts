/**
 * Top-k selection over one row: the k largest values, ties broken by the lower index, result
 * sorted by value descending. Shared by the reference backend and by every activation that
 * selects (TopK, `top` truncation).
 * @module
 */

import { TopHeap } from "./top_heap.ts";

/** Indices and values selected from one row. */
export interface Selection {
  readonly indices: Int32Array;
  readonly values: Float32Array;
}

/**
 * The k entries of `values` ranked highest (larger value first, ties: lower index first).
 * NaN never ranks. `keep` filters candidates (e.g. only non-zero); default keeps all.
 */
export function topK(
  values: Float32Array,
  k: number,
  options?: { keep?: (value: number, index: number) => boolean },
): Selection {
  const keep = options?.keep;
  const heap = new TopHeap(Math.max(0, Math.min(k, values.length)));
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== v) continue; // NaN
    if (keep && !keep(v, i)) continue;
    if (heap.admits(v, i)) heap.push(v, i);
  }
  return heap.selection();
}
