// Phases 2 and 3 of the int8 encode, once every part has its selection sorted best first:
// the cut (per row, the CUT best estimates over all parts; each part takes its own share),
// then the exact f32 rescoring of those candidates. Candidates become pairs (row, column),
// sorted by column, and are rescored 8 pairs at a time as the lanes of two sums: lane i is
// the f32 encode's own sum for its column (f32x4.relaxed_madd over k in order, from 0, on the
// same f32 weights), so the values are the f32 encode's bit for bit. The f32 panels must be
// column-major (OP_COLUMN_MAJOR: a column is K contiguous floats, so a candidate reads only its
// own weights). The survivors of the exact activation go to OVAL/OIDX/OCNT.

import {
  ACT_GATED,
  ACT_JUMPRELU,
  checkpoint,
  I8_C0,
  I8_C1,
  I8_CUT,
  I8_DESC,
  I8_EXACT,
  I8_G,
  I8_GSTEP,
  I8_NPAIRS,
  I8_OCNT,
  I8_OIDX,
  I8_OVAL,
  I8_OWN,
  I8_PART,
  I8_PARTS,
  I8_PCOL,
  I8_PROW,
  I8_COUNTS,
  I8_SLOT,
  P_A,
  P_B,
  P_BIAS,
  P_BMAG,
  P_K,
  P_LDA,
  P_M,
  P_OCNT,
  P_OIDX,
  P_OSTRIDE,
  P_PSTRIDE,
  P_THR,
  param,
} from "./params";
import { worse } from "./select";

@inline function word(aux: usize, i: i32): i32 {
  return load<i32>(aux + (<usize>i << 2));
}

@inline function at(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

// How many of part `me`'s first entries in row r are among the `cut` best of all parts
// (each part's row sorted best first: a merge of the heads).
function cutRow(desc: usize, parts: i32, me: i32, r: i32, cut: i32, heads: usize): i32 {
  for (let t = 0; t < parts; t++) store<i32>(at(heads, t), 0);
  let mine = 0;
  for (let s = 0; s < cut; s++) {
    let best = -1;
    let bv: f32 = 0;
    let bi = 0;
    for (let t = 0; t < parts; t++) {
      const d = desc + (<usize>t << 4);
      const h = load<i32>(at(heads, t));
      if (h >= load<i32>(at(<usize>load<i32>(d, 8), r))) continue;
      const row = <usize>load<i32>(d, 12) * <usize>r;
      const v = load<f32>(at(<usize>load<i32>(d) + row, h));
      const i = load<i32>(at(<usize>load<i32>(d, 4) + row, h));
      if (best < 0 || worse(bv, bi, v, i)) {
        best = t;
        bv = v;
        bi = i;
      }
    }
    if (best < 0) break;
    store<i32>(at(heads, best), load<i32>(at(heads, best)) + 1);
    if (best == me) mine++;
  }
  return mine;
}

/**
 * Phase 2: this part's share of each row's cut (OWN), and its candidates as pairs (row, column)
 * sorted by column then row (PROW, PCOL, NPAIRS), each candidate's pair in SLOT (a row names a
 * column once, so every candidate is its own pair).
 */
export function cutAndPair(pb: usize, aux: usize): void {
  const m = param(pb, P_M);
  const stride = param(pb, P_OSTRIDE);
  const idx = <usize>param(pb, P_OIDX);
  const cnt = <usize>param(pb, P_OCNT);
  const parts = word(aux, I8_PARTS);
  const cut = word(aux, I8_CUT);
  const c0 = word(aux, I8_C0);
  const nc = word(aux, I8_C1) - c0;
  const own = <usize>word(aux, I8_OWN);
  const prow = <usize>word(aux, I8_PROW);
  const pcol = <usize>word(aux, I8_PCOL);
  const slot = <usize>word(aux, I8_SLOT);
  const start = <usize>word(aux, I8_COUNTS);
  const heads = at(start, nc + 1);
  for (let r = 0; r < m; r++) {
    const n = cut > 0
      ? cutRow(<usize>word(aux, I8_DESC), parts, word(aux, I8_PART), r, cut, heads)
      : load<i32>(at(cnt, r));
    store<i32>(at(own, r), n);
  }
  // Candidates per column, then where each column's pairs start.
  memory.fill(start, 0, <usize>(nc + 1) << 2);
  for (let r = 0; r < m; r++) {
    const ix = idx + <usize>(r * stride) * 4;
    const n = load<i32>(at(own, r));
    for (let e = 0; e < n; e++) {
      const c = load<i32>(at(ix, e)) - c0;
      store<i32>(at(start, c + 1), load<i32>(at(start, c + 1)) + 1);
    }
  }
  for (let c = 0; c < nc; c++) {
    store<i32>(at(start, c + 1), load<i32>(at(start, c + 1)) + load<i32>(at(start, c)));
  }
  for (let r = 0; r < m; r++) {
    const ix = idx + <usize>(r * stride) * 4;
    const sl = slot + <usize>(r * stride) * 4;
    const n = load<i32>(at(own, r));
    for (let e = 0; e < n; e++) {
      const c = load<i32>(at(ix, e)) - c0;
      const p = load<i32>(at(start, c));
      store<i32>(at(start, c), p + 1);
      store<i32>(at(prow, p), r);
      store<i32>(at(pcol, p), c + c0);
      store<i32>(at(sl, e), p);
    }
  }
  store<i32>(at(aux, I8_NPAIRS), load<i32>(at(start, nc)));
  store<i32>(at(aux, I8_G), 0);
}

// Column j of the f32 encoder: its panel (8 columns) holds it as K contiguous floats.
@inline function columnAt(b: usize, pstride: usize, K: usize, j: i32): usize {
  return b + (<usize>j >> 3) * pstride + (<usize>(j & 7)) * (K << 2);
}

// A 4 x 4 transpose in two steps: lo / hi interleave two vectors (a0 b0 a1 b1, a2 b2 a3 b3), then
// lo2 / hi2 join halves (a0 a1 b0 b1, a2 a3 b2 b3), so lane i ends up holding the i-th vector's.
@inline function lo(a: v128, b: v128): v128 {
  return v128.shuffle<f32>(a, b, 0, 4, 1, 5);
}
@inline function hi(a: v128, b: v128): v128 {
  return v128.shuffle<f32>(a, b, 2, 6, 3, 7);
}
@inline function lo2(a: v128, b: v128): v128 {
  return v128.shuffle<f32>(a, b, 0, 1, 4, 5);
}
@inline function hi2(a: v128, b: v128): v128 {
  return v128.shuffle<f32>(a, b, 2, 3, 6, 7);
}

@inline function fma(x: v128, w: v128, c: v128): v128 {
  return f32x4.relaxed_madd(x, w, c);
}

// Four k of four pairs (columns w, rows x at byte offset o) transposed so that lane i holds pair
// i's, added in order to c.
@inline function step4(c: v128, o: usize, w0: usize, w1: usize, w2: usize, w3: usize, x0: usize, x1: usize, x2: usize, x3: usize): v128 {
  const wa = v128.load(w0 + o), wb = v128.load(w1 + o);
  const wc = v128.load(w2 + o), wd = v128.load(w3 + o);
  const xa = v128.load(x0 + o), xb = v128.load(x1 + o);
  const xc = v128.load(x2 + o), xd = v128.load(x3 + o);
  const wl = lo(wa, wb), wh = hi(wa, wb), wm = lo(wc, wd), wn = hi(wc, wd);
  const xl = lo(xa, xb), xh = hi(xa, xb), xm = lo(xc, xd), xn = hi(xc, xd);
  c = fma(lo2(xl, xm), lo2(wl, wm), c);
  c = fma(hi2(xl, xm), hi2(wl, wm), c);
  c = fma(lo2(xh, xn), lo2(wh, wn), c);
  return fma(hi2(xh, xn), hi2(wh, wn), c);
}

// One k of four pairs (gathered lane by lane), added to c.
@inline function step1(c: v128, o: usize, w0: usize, w1: usize, w2: usize, w3: usize, x0: usize, x1: usize, x2: usize, x3: usize): v128 {
  let w = f32x4.splat(load<f32>(w0 + o));
  w = f32x4.replace_lane(w, 1, load<f32>(w1 + o));
  w = f32x4.replace_lane(w, 2, load<f32>(w2 + o));
  w = f32x4.replace_lane(w, 3, load<f32>(w3 + o));
  let x = f32x4.splat(load<f32>(x0 + o));
  x = f32x4.replace_lane(x, 1, load<f32>(x1 + o));
  x = f32x4.replace_lane(x, 2, load<f32>(x2 + o));
  x = f32x4.replace_lane(x, 3, load<f32>(x3 + o));
  return fma(x, w, c);
}

// Eight pairs from g on as the lanes of two sums, interleaved so that neither waits on the
// other's adds: lane i of a sum is its pair's row against its pair's column over k in order from
// 0 (four k per step), which is the f32 encode's own sum for that column, bit for bit. The results
// go to EXACT[g..g + 8). Where fewer than eight pairs are left before `end`, pair g stands in for
// the missing ones: their lanes land past `end`, on pairs rescored later or on EXACT's 8 floats
// of slack.
function pairs8(pb: usize, aux: usize, g: i32, end: i32): void {
  const K = param(pb, P_K);
  const a = <usize>param(pb, P_A);
  const lda = <usize>param(pb, P_LDA) << 2;
  const b = <usize>param(pb, P_B);
  const pstride = <usize>param(pb, P_PSTRIDE);
  const prow = <usize>word(aux, I8_PROW);
  const pcol = <usize>word(aux, I8_PCOL);
  const p0 = g, p1 = pick(g, 1, end), p2 = pick(g, 2, end), p3 = pick(g, 3, end);
  const p4 = pick(g, 4, end), p5 = pick(g, 5, end), p6 = pick(g, 6, end), p7 = pick(g, 7, end);
  const w0 = columnAt(b, pstride, K, load<i32>(at(pcol, p0)));
  const w1 = columnAt(b, pstride, K, load<i32>(at(pcol, p1)));
  const w2 = columnAt(b, pstride, K, load<i32>(at(pcol, p2)));
  const w3 = columnAt(b, pstride, K, load<i32>(at(pcol, p3)));
  const w4 = columnAt(b, pstride, K, load<i32>(at(pcol, p4)));
  const w5 = columnAt(b, pstride, K, load<i32>(at(pcol, p5)));
  const w6 = columnAt(b, pstride, K, load<i32>(at(pcol, p6)));
  const w7 = columnAt(b, pstride, K, load<i32>(at(pcol, p7)));
  const x0 = a + <usize>load<i32>(at(prow, p0)) * lda;
  const x1 = a + <usize>load<i32>(at(prow, p1)) * lda;
  const x2 = a + <usize>load<i32>(at(prow, p2)) * lda;
  const x3 = a + <usize>load<i32>(at(prow, p3)) * lda;
  const x4 = a + <usize>load<i32>(at(prow, p4)) * lda;
  const x5 = a + <usize>load<i32>(at(prow, p5)) * lda;
  const x6 = a + <usize>load<i32>(at(prow, p6)) * lda;
  const x7 = a + <usize>load<i32>(at(prow, p7)) * lda;
  let c = f32x4.splat(0);
  let d = f32x4.splat(0);
  let o: usize = 0;
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    c = step4(c, o, w0, w1, w2, w3, x0, x1, x2, x3);
    d = step4(d, o, w4, w5, w6, w7, x4, x5, x6, x7);
    o += 16;
  }
  for (; k < K; k++) {
    c = step1(c, o, w0, w1, w2, w3, x0, x1, x2, x3);
    d = step1(d, o, w4, w5, w6, w7, x4, x5, x6, x7);
    o += 4;
  }
  const e = at(<usize>word(aux, I8_EXACT), g);
  v128.store(e, c);
  v128.store(e, d, 16);
}

// Pair g + i, or g itself when that is at or past `end`.
@inline function pick(g: i32, i: i32, end: i32): i32 {
  return g + i < end ? g + i : g;
}

// Rescore pairs g..end, eight at a time. Returns end.
function rescoreRuns(pb: usize, aux: usize, g: i32, end: i32): i32 {
  for (; g < end; g += 8) pairs8(pb, aux, g, end);
  return end;
}

// Each own candidate's exact value through the activation; survivors to OVAL/OIDX/OCNT.
function survivors(pb: usize, aux: usize, act: i32): void {
  const m = param(pb, P_M);
  const stride = param(pb, P_OSTRIDE);
  const idx = <usize>param(pb, P_OIDX);
  const bias = <usize>param(pb, P_BIAS);
  const thr = <usize>param(pb, P_THR);
  const bmag = <usize>param(pb, P_BMAG);
  const own = <usize>word(aux, I8_OWN);
  const slot = <usize>word(aux, I8_SLOT);
  const exact = <usize>word(aux, I8_EXACT);
  const ovals = <usize>word(aux, I8_OVAL);
  const oidx = <usize>word(aux, I8_OIDX);
  const ocnt = <usize>word(aux, I8_OCNT);
  for (let r = 0; r < m; r++) {
    const row = <usize>(r * stride) * 4;
    const n = load<i32>(at(own, r));
    let kept = 0;
    for (let e = 0; e < n; e++) {
      const j = load<i32>(at(idx + row, e));
      const p = load<f32>(exact + (<usize>load<i32>(at(slot + row, e)) << 2));
      const jb = <usize>j << 2;
      let v: f32;
      let ok: bool;
      if (act == ACT_GATED) {
        const g = p + load<f32>(bias + jb);
        v = p * load<f32>(thr + jb) + load<f32>(bmag + jb);
        ok = g > 0 && v > 0;
      } else {
        v = p + load<f32>(bias + jb);
        ok = v > 0 && (act != ACT_JUMPRELU || v > load<f32>(thr + jb));
      }
      if (ok) {
        store<f32>(at(ovals + row, kept), v);
        store<i32>(at(oidx + row, kept), j);
        kept++;
      }
    }
    store<i32>(at(ocnt, r), kept);
  }
}

/**
 * Phase 3: rescore pairs from G on, GSTEP between checkpoints, then keep the survivors.
 * Returns 1 when stopped at a checkpoint (G is left at the next pair), else 0.
 */
export function rescorePairs(pb: usize, aux: usize, act: i32, first: bool): i32 {
  const n = word(aux, I8_NPAIRS);
  const step = max(4, word(aux, I8_GSTEP));
  let g = word(aux, I8_G);
  while (g < n) {
    if (!first && checkpoint(pb)) {
      store<i32>(at(aux, I8_G), g);
      return 1;
    }
    first = false;
    g = rescoreRuns(pb, aux, g, min(n, g + step));
  }
  store<i32>(at(aux, I8_G), n);
  survivors(pb, aux, act);
  return 0;
}
