/**
 * Row-wise top-k of a dense matrix, as every backend's `topK` (and the sparse form of dense
 * codes) computes it: {@link topK} from domain/sae/top_k.ts applied to each row.
 * @module
 */

import { type Matrix, row, type SparseRows } from "../domain/sae/matrix.ts";
import { topK } from "../domain/sae/top_k.ts";

/**
 * The `k` highest entries of each row of `m` (value descending, ties: lower index first);
 * `keep` filters candidates (default: every entry, zeros included).
 */
export function topKRows(
  m: Matrix,
  k: number,
  options?: { keep?: (value: number, index: number) => boolean },
): SparseRows {
  const indices: Int32Array[] = [];
  const values: Float32Array[] = [];
  for (let r = 0; r < m.rows; r++) {
    const chosen = topK(row(m, r), k, options);
    indices.push(chosen.indices);
    values.push(chosen.values);
  }
  return { width: m.cols, indices, values };
}

/** The non-zero entries of each row of dense codes, value descending (ties: lower index). */
export function nonZeroRows(codes: Matrix): SparseRows {
  return topKRows(codes, codes.cols, { keep: (v) => v !== 0 });
}
