// Per-row selections: bounded heaps (or lists) fed by the fused encode's tiles (selectTile),
// and the merge of per-part selections into sorted rows (OP_MERGE).

import {
  ACT_GATED,
  ACT_JUMPRELU,
  checkpoint,
  MG_CAP,
  MG_DESC,
  MG_OCNT,
  MG_OIDX,
  MG_OSTRIDE,
  MG_OVAL,
  MG_PARTS,
  MG_R0,
  MG_R1,
  P_BIAS,
  P_BMAG,
  P_CAP,
  P_NREAL,
  P_OCNT,
  P_OIDX,
  P_OSTRIDE,
  P_OVAL,
  P_THR,
  param,
  setParam,
  TN,
} from "./params";

// Push (v, j) into row r's selection: a bounded min-heap keyed by (value, -index) when cap > 0
// (so the root is the worst kept entry; ties keep the lower index), else an append-only list.
@inline export function worse(va: f32, ia: i32, vb: f32, ib: i32): bool {
  return va < vb || (va == vb && ia > ib);
}

export function push(vals: usize, idx: usize, cnt: usize, cap: i32, v: f32, j: i32): void {
  let n = load<i32>(cnt);
  if (cap == 0) {
    store<f32>(vals + (<usize>n << 2), v);
    store<i32>(idx + (<usize>n << 2), j);
    store<i32>(cnt, n + 1);
    return;
  }
  if (n < cap) {
    // sift up
    let i = n;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pv = load<f32>(vals + (<usize>parent << 2));
      const pi = load<i32>(idx + (<usize>parent << 2));
      if (!worse(v, j, pv, pi)) break;
      store<f32>(vals + (<usize>i << 2), pv);
      store<i32>(idx + (<usize>i << 2), pi);
      i = parent;
    }
    store<f32>(vals + (<usize>i << 2), v);
    store<i32>(idx + (<usize>i << 2), j);
    store<i32>(cnt, n + 1);
    return;
  }
  const rv = load<f32>(vals);
  const ri = load<i32>(idx);
  if (!worse(rv, ri, v, j)) return; // not better than the worst kept
  // replace root, sift down
  let i = 0;
  while (true) {
    const l = 2 * i + 1;
    if (l >= cap) break;
    let child = l;
    let cv = load<f32>(vals + (<usize>l << 2));
    let ci = load<i32>(idx + (<usize>l << 2));
    const rr = l + 1;
    if (rr < cap) {
      const rv2 = load<f32>(vals + (<usize>rr << 2));
      const ri2 = load<i32>(idx + (<usize>rr << 2));
      if (worse(rv2, ri2, cv, ci)) {
        child = rr;
        cv = rv2;
        ci = ri2;
      }
    }
    if (!worse(cv, ci, v, j)) break;
    store<f32>(vals + (<usize>i << 2), cv);
    store<i32>(idx + (<usize>i << 2), ci);
    i = child;
  }
  store<f32>(vals + (<usize>i << 2), v);
  store<i32>(idx + (<usize>i << 2), j);
}

// One candidate (column j, pre-activation p): apply the activation, push if it survives.
@inline function consider(vals: usize, idx: usize, cnt: usize, cap: i32, p: f32, j: i32, act: i32, bias: usize, thr: usize, bmag: usize): void {
  const jb = <usize>j << 2;
  if (act == ACT_GATED) {
    const g = p + load<f32>(bias + jb);
    const mag = p * load<f32>(thr + jb) + load<f32>(bmag + jb);
    if (g > 0 && mag > 0) push(vals, idx, cnt, cap, mag, j);
  } else {
    const h = p + load<f32>(bias + jb);
    if (h > 0 && (act != ACT_JUMPRELU || h > load<f32>(thr + jb))) push(vals, idx, cnt, cap, h, j);
  }
}

// The value a candidate must beat to enter row's selection: the heap's worst once it is full
// (later columns have higher indices, so an equal value never wins), else 0.
@inline function floorOf(vals: usize, cnt: usize, cap: i32): f32 {
  return cap > 0 && load<i32>(cnt) == cap ? load<f32>(vals) : 0;
}

@inline export function selectTile(pb: usize, n0t: i32, n1t: i32, c: usize, act: i32, r0: i32, r1: i32): void {
  const nReal = param(pb, P_NREAL);
  const bias = <usize>param(pb, P_BIAS);
  const thr = <usize>param(pb, P_THR);
  const bmag = <usize>param(pb, P_BMAG);
  const cap = param(pb, P_CAP);
  const stride = <usize>param(pb, P_OSTRIDE) << 2;
  const ovals = <usize>param(pb, P_OVAL);
  const oidx = <usize>param(pb, P_OIDX);
  const ocnt = <usize>param(pb, P_OCNT);
  const end = min(n1t, nReal);
  const zero = f32x4.splat(0);
  for (let r = r0; r < r1; r++) {
    const row = c + <usize>(r * TN) * 4;
    const vals = ovals + <usize>r * stride;
    const idx = oidx + <usize>r * stride;
    const cnt = ocnt + (<usize>r << 2);
    let floor = f32x4.splat(floorOf(vals, cnt, cap));
    let j = n0t;
    // Four columns at a time: most are rejected by one vector compare.
    for (; j + 4 <= end; j += 4) {
      const at = row + (<usize>(j - n0t) << 2);
      const jb = <usize>j << 2;
      const p = v128.load(at);
      let ok: v128;
      if (act == ACT_GATED) {
        const g = f32x4.add(p, v128.load(bias + jb));
        const mag = f32x4.add(f32x4.mul(p, v128.load(thr + jb)), v128.load(bmag + jb));
        ok = v128.and(f32x4.gt(g, zero), f32x4.gt(mag, floor));
      } else {
        const h = f32x4.add(p, v128.load(bias + jb));
        ok = f32x4.gt(h, floor);
        if (act == ACT_JUMPRELU) ok = v128.and(ok, f32x4.gt(h, v128.load(thr + jb)));
      }
      if (!v128.any_true(ok)) continue;
      if (i32x4.extract_lane(ok, 0)) consider(vals, idx, cnt, cap, f32x4.extract_lane(p, 0), j, act, bias, thr, bmag);
      if (i32x4.extract_lane(ok, 1)) consider(vals, idx, cnt, cap, f32x4.extract_lane(p, 1), j + 1, act, bias, thr, bmag);
      if (i32x4.extract_lane(ok, 2)) consider(vals, idx, cnt, cap, f32x4.extract_lane(p, 2), j + 2, act, bias, thr, bmag);
      if (i32x4.extract_lane(ok, 3)) consider(vals, idx, cnt, cap, f32x4.extract_lane(p, 3), j + 3, act, bias, thr, bmag);
      floor = f32x4.splat(floorOf(vals, cnt, cap));
    }
    for (; j < end; j++) {
      consider(vals, idx, cnt, cap, load<f32>(row + (<usize>(j - n0t) << 2)), j, act, bias, thr, bmag);
    }
  }
}

// Restore the heap order (the worst entry at the root) below position i of an n-entry heap.
function siftDown(vals: usize, idx: usize, i: i32, n: i32): void {
  const v = load<f32>(vals + (<usize>i << 2));
  const j = load<i32>(idx + (<usize>i << 2));
  while (true) {
    const l = 2 * i + 1;
    if (l >= n) break;
    let child = l;
    let cv = load<f32>(vals + (<usize>l << 2));
    let ci = load<i32>(idx + (<usize>l << 2));
    if (l + 1 < n) {
      const rv = load<f32>(vals + (<usize>(l + 1) << 2));
      const ri = load<i32>(idx + (<usize>(l + 1) << 2));
      if (worse(rv, ri, cv, ci)) {
        child = l + 1;
        cv = rv;
        ci = ri;
      }
    }
    if (!worse(cv, ci, v, j)) break;
    store<f32>(vals + (<usize>i << 2), cv);
    store<i32>(idx + (<usize>i << 2), ci);
    i = child;
  }
  store<f32>(vals + (<usize>i << 2), v);
  store<i32>(idx + (<usize>i << 2), j);
}

// Sort n entries best first (value descending, index ascending): heapsort on the worst-first
// heap puts each extracted worst entry at the end.
export function sortBestFirst(vals: usize, idx: usize, n: i32): void {
  for (let i = (n >> 1) - 1; i >= 0; i--) siftDown(vals, idx, i, n);
  for (let end = n - 1; end > 0; end--) {
    const ev = load<f32>(vals + (<usize>end << 2));
    const ei = load<i32>(idx + (<usize>end << 2));
    store<f32>(vals + (<usize>end << 2), load<f32>(vals));
    store<i32>(idx + (<usize>end << 2), load<i32>(idx));
    store<f32>(vals, ev);
    store<i32>(idx, ei);
    siftDown(vals, idx, 0, end);
  }
}

// OP_MERGE; stopped at a checkpoint, R0 is left at the next row.
export function mergeJob(pb: usize): i32 {
  const desc = <usize>param(pb, MG_DESC);
  const parts = param(pb, MG_PARTS);
  const cap = param(pb, MG_CAP);
  const ostride = <usize>param(pb, MG_OSTRIDE) << 2;
  const r1 = param(pb, MG_R1);
  const first = param(pb, MG_R0);
  for (let r = first; r < r1; r++) {
    if (r > first && checkpoint(pb)) {
      setParam(pb, MG_R0, r);
      return 1;
    }
    const ov = <usize>param(pb, MG_OVAL) + <usize>r * ostride;
    const oi = <usize>param(pb, MG_OIDX) + <usize>r * ostride;
    const oc = <usize>param(pb, MG_OCNT) + (<usize>r << 2);
    store<i32>(oc, 0);
    for (let p = 0; p < parts; p++) {
      const d = desc + (<usize>p << 4);
      const rowBytes = <usize>load<i32>(d, 12) * <usize>r;
      const vals = <usize>load<i32>(d) + rowBytes;
      const idx = <usize>load<i32>(d, 4) + rowBytes;
      const n = load<i32>(<usize>load<i32>(d, 8) + (<usize>r << 2));
      for (let j = 0; j < n; j++) {
        push(ov, oi, oc, cap, load<f32>(vals + (<usize>j << 2)), load<i32>(idx + (<usize>j << 2)));
      }
    }
    sortBestFirst(ov, oi, load<i32>(oc));
  }
  setParam(pb, MG_R0, r1);
  return 0;
}
