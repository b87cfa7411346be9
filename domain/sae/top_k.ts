/**
 * Top-k selection over one row: the k largest values, ties broken by the lower index, result
 * sorted by value descending. Shared by the reference backend and by every activation that
 * selects (TopK, `top` truncation).
 * @module
 */

/** Indices and values selected from one row. */
export interface Selection {
  readonly indices: Int32Array;
  readonly values: Float32Array;
}

/** True when (va, ia) ranks before (vb, ib): larger value first, then lower index. */
function before(va: number, ia: number, vb: number, ib: number): boolean {
  return va > vb || (va === vb && ia < ib);
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
  const n = Math.max(0, Math.min(k, values.length));
  // A bounded min-heap of the best n seen so far; the root is the weakest kept entry.
  const hv = new Float64Array(n);
  const hi = new Int32Array(n);
  let size = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== v) continue; // NaN
    if (keep && !keep(v, i)) continue;
    if (size < n) {
      let c = size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!before(hv[p], hi[p], v, i)) break;
        hv[c] = hv[p];
        hi[c] = hi[p];
        c = p;
      }
      hv[c] = v;
      hi[c] = i;
    } else if (n > 0 && before(v, i, hv[0], hi[0])) {
      siftDown(hv, hi, size, v, i);
    }
  }
  const order = Array.from({ length: size }, (_, j) => j);
  order.sort((a, b) => (before(hv[a], hi[a], hv[b], hi[b]) ? -1 : 1));
  const indices = new Int32Array(size);
  const out = new Float32Array(size);
  for (let j = 0; j < size; j++) {
    indices[j] = hi[order[j]];
    out[j] = hv[order[j]];
  }
  return { indices, values: out };
}

/** Replace the heap root with (v, i) and restore the heap (weakest at the root). */
function siftDown(hv: Float64Array, hi: Int32Array, size: number, v: number, i: number): void {
  let c = 0;
  while (true) {
    const l = 2 * c + 1;
    if (l >= size) break;
    const r = l + 1;
    // The child that ranks lower (weaker) moves up.
    const w = r < size && before(hv[l], hi[l], hv[r], hi[r]) ? r : l;
    if (!before(v, i, hv[w], hi[w])) break;
    hv[c] = hv[w];
    hi[c] = hi[w];
    c = w;
  }
  hv[c] = v;
  hi[c] = i;
}
