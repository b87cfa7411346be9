// Per-row selections of the training encode: bounded min-heaps of (value, index) whose root is
// the worst kept entry (lower value, then higher index), and the sorts that finish them.

// True when (va, ia) ranks below (vb, ib): lower value, or the same value at a higher index.
@inline function worse(va: f32, ia: i32, vb: f32, ib: i32): bool {
  return va < vb || (va == vb && ia > ib);
}

@inline function getV(vals: usize, i: i32): f32 {
  return load<f32>(vals + (<usize>i << 2));
}

@inline function getI(idx: usize, i: i32): i32 {
  return load<i32>(idx + (<usize>i << 2));
}

@inline function put(vals: usize, idx: usize, i: i32, v: f32, j: i32): void {
  store<f32>(vals + (<usize>i << 2), v);
  store<i32>(idx + (<usize>i << 2), j);
}

// Restore the heap order below position i of an n-entry heap (worst entry at the root).
function siftDownWorst(vals: usize, idx: usize, i: i32, n: i32, v: f32, j: i32): void {
  while (true) {
    const l = 2 * i + 1;
    if (l >= n) break;
    let child = l;
    let cv = getV(vals, l);
    let ci = getI(idx, l);
    if (l + 1 < n) {
      const rv = getV(vals, l + 1);
      const ri = getI(idx, l + 1);
      if (worse(rv, ri, cv, ci)) {
        child = l + 1;
        cv = rv;
        ci = ri;
      }
    }
    if (!worse(cv, ci, v, j)) break;
    put(vals, idx, i, cv, ci);
    i = child;
  }
  put(vals, idx, i, v, j);
}

// Offer (v, j) to the selection of capacity cap > 0 whose count is at cnt.
export function heapPush(vals: usize, idx: usize, cnt: usize, cap: i32, v: f32, j: i32): void {
  const n = load<i32>(cnt);
  if (n < cap) {
    let i = n;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pv = getV(vals, parent);
      const pi = getI(idx, parent);
      if (!worse(v, j, pv, pi)) break;
      put(vals, idx, i, pv, pi);
      i = parent;
    }
    put(vals, idx, i, v, j);
    store<i32>(cnt, n + 1);
    return;
  }
  if (!worse(getV(vals, 0), getI(idx, 0), v, j)) return;
  siftDownWorst(vals, idx, 0, cap, v, j);
}

// The value a candidate must exceed to enter a selection: its worst once full, else 0 (only
// h > 0 is kept). Columns arrive in increasing order, so an equal value never wins.
@inline export function floorOf(vals: usize, cnt: usize, cap: i32): f32 {
  if (cap == 0) return f32.MAX_VALUE;
  return load<i32>(cnt) == cap ? load<f32>(vals) : 0;
}

// Sort n heap entries best first (value descending, index ascending): heapsort on the
// worst-first heap moves each extracted worst entry to the end.
export function sortBestFirst(vals: usize, idx: usize, n: i32): void {
  for (let i = (n >> 1) - 1; i >= 0; i--) siftDownWorst(vals, idx, i, n, getV(vals, i), getI(idx, i));
  for (let end = n - 1; end > 0; end--) {
    const ev = getV(vals, end);
    const ei = getI(idx, end);
    put(vals, idx, end, getV(vals, 0), getI(idx, 0));
    siftDownWorst(vals, idx, 0, end, ev, ei);
  }
}

// Restore a max-heap on index below position i of an n-entry heap.
function siftDownIndex(vals: usize, idx: usize, i: i32, n: i32, v: f32, j: i32): void {
  while (true) {
    const l = 2 * i + 1;
    if (l >= n) break;
    let child = l;
    let ci = getI(idx, l);
    if (l + 1 < n && getI(idx, l + 1) > ci) {
      child = l + 1;
      ci = getI(idx, l + 1);
    }
    if (ci <= j) break;
    put(vals, idx, i, getV(vals, child), ci);
    i = child;
  }
  put(vals, idx, i, v, j);
}

// Sort n entries by index ascending (heapsort).
export function sortByIndex(vals: usize, idx: usize, n: i32): void {
  for (let i = (n >> 1) - 1; i >= 0; i--) siftDownIndex(vals, idx, i, n, getV(vals, i), getI(idx, i));
  for (let end = n - 1; end > 0; end--) {
    const ev = getV(vals, end);
    const ei = getI(idx, end);
    put(vals, idx, end, getV(vals, 0), getI(idx, 0));
    siftDownIndex(vals, idx, 0, end, ev, ei);
  }
}
