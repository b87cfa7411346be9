/**
 * BatchTopK from per-row candidates: the batch's `total` largest h > 0 (ties: lower flat index,
 * row-major), chosen among each row's best candidates. A row whose candidate list was full and
 * whose worst candidate would be selected may hold more selected entries than it kept: it is
 * reported as incomplete, to be recomputed with a larger cap.
 * @module
 */

/** One row's candidates: its best h > 0, sorted by index ascending. */
export interface RowCandidates {
  readonly idx: Int32Array;
  readonly vals: Float32Array;
  /** Whether the list was capped (the row may have more h > 0 than it holds). */
  readonly full: boolean;
}

/** What {@link batchTopK} selected. */
export interface BatchSelection {
  /** Per row, the selected (index ascending) entries. */
  readonly rows: { idx: Int32Array; vals: Float32Array }[];
  /** The smallest selected value (0 when none). */
  readonly minSelected: number;
  /** Rows whose candidates may not have held all their selected entries. */
  readonly incomplete: number[];
}

/** Select the batch's `total` largest candidates (see the module note). */
export function batchTopK(rows: readonly RowCandidates[], total: number): BatchSelection {
  let count = 0;
  for (const r of rows) count += r.vals.length;
  const all = new Float32Array(count);
  let at = 0;
  for (const r of rows) {
    all.set(r.vals, at);
    at += r.vals.length;
  }
  all.sort();
  // Threshold t: the total-th largest candidate; everything above it is in, ties at t are
  // taken by flat index (row, then column) until `total` are in.
  const take = Math.min(total, count);
  const t = take > 0 ? all[count - take] : Infinity;
  let above = 0;
  for (let i = count - 1; i >= 0 && all[i] > t; i--) above++;
  let ties = take - above;
  const out: BatchSelection["rows"] = [];
  const incomplete: number[] = [];
  rows.forEach((r, b) => {
    const idx: number[] = [];
    const vals: number[] = [];
    for (let j = 0; j < r.vals.length; j++) {
      const v = r.vals[j];
      if (v > t || (v === t && ties-- > 0)) {
        idx.push(r.idx[j]);
        vals.push(v);
      }
    }
    out.push({ idx: Int32Array.from(idx), vals: Float32Array.from(vals) });
    if (r.full && r.vals.length > 0) {
      let worst = Infinity;
      for (const v of r.vals) worst = Math.min(worst, v);
      // At or above the threshold, the row's unkept entries could rank above t too.
      if (worst >= t) incomplete.push(b);
    }
  });
  return { rows: out, minSelected: take > 0 ? t : 0, incomplete };
}
