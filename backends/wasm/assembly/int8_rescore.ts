// Phases 2 and 3 of the int8 encode, once every part has its selection sorted best first:
// the cut (per row, the CUT best estimates over all parts; each part takes its own share),
// then the exact f32 rescoring of those candidates. Candidates are gathered into pairs (row,
// quad of 4 columns), sorted by quad so that the rows sharing a quad read its weights once,
// and rescored 4 pairs at a time as 4 independent chains: each is the f32 encode's own sum
// (f32x4.relaxed_madd over k in order, from 0, on the same f32 panels), so the values are the
// f32 encode's bit for bit. The f32 panels must be split into quad-major halves (OP_SPLIT_QUADS:
// a quad's 4 columns are 16 contiguous bytes per k). The survivors of the exact activation go
// to OVAL/OIDX/OCNT.

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
  I8_PQUAD,
  I8_PROW,
  I8_QUADS,
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
 * Phase 2: this part's share of each row's cut (OWN), and its candidates as pairs (row, quad)
 * sorted by quad then row (PROW, PQUAD, NPAIRS), each candidate's pair in SLOT.
 */
export function cutAndPair(pb: usize, aux: usize): void {
  const m = param(pb, P_M);
  const stride = param(pb, P_OSTRIDE);
  const idx = <usize>param(pb, P_OIDX);
  const cnt = <usize>param(pb, P_OCNT);
  const parts = word(aux, I8_PARTS);
  const cut = word(aux, I8_CUT);
  const q0 = word(aux, I8_C0) >> 2;
  const nq = (word(aux, I8_C1) >> 2) - q0;
  const own = <usize>word(aux, I8_OWN);
  const prow = <usize>word(aux, I8_PROW);
  const pquad = <usize>word(aux, I8_PQUAD);
  const slot = <usize>word(aux, I8_SLOT);
  const start = <usize>word(aux, I8_QUADS);
  const latest = at(start, nq + 1);
  const heads = at(latest, nq);
  for (let r = 0; r < m; r++) {
    const n = cut > 0
      ? cutRow(<usize>word(aux, I8_DESC), parts, word(aux, I8_PART), r, cut, heads)
      : load<i32>(at(cnt, r));
    store<i32>(at(own, r), n);
  }
  // Pairs per quad (a row's candidates in one quad make one pair), then their offsets.
  memory.fill(start, 0, <usize>(nq + 1) << 2);
  memory.fill(latest, 0xff, <usize>nq << 2);
  for (let r = 0; r < m; r++) {
    const ix = idx + <usize>(r * stride) * 4;
    const n = load<i32>(at(own, r));
    for (let e = 0; e < n; e++) {
      const q = (load<i32>(at(ix, e)) >> 2) - q0;
      if (load<i32>(at(latest, q)) != r) {
        store<i32>(at(latest, q), r);
        store<i32>(at(start, q + 1), load<i32>(at(start, q + 1)) + 1);
      }
    }
  }
  for (let q = 0; q < nq; q++) {
    store<i32>(at(start, q + 1), load<i32>(at(start, q + 1)) + load<i32>(at(start, q)));
  }
  memory.fill(latest, 0xff, <usize>nq << 2);
  for (let r = 0; r < m; r++) {
    const ix = idx + <usize>(r * stride) * 4;
    const sl = slot + <usize>(r * stride) * 4;
    const n = load<i32>(at(own, r));
    for (let e = 0; e < n; e++) {
      const q = (load<i32>(at(ix, e)) >> 2) - q0;
      let p = load<i32>(at(latest, q));
      if (p < 0 || load<i32>(at(prow, p)) != r) {
        p = load<i32>(at(start, q));
        store<i32>(at(start, q), p + 1);
        store<i32>(at(prow, p), r);
        store<i32>(at(pquad, p), q + q0);
        store<i32>(at(latest, q), p);
      }
      store<i32>(at(sl, e), p);
    }
  }
  store<i32>(at(aux, I8_NPAIRS), load<i32>(at(start, nq)));
  store<i32>(at(aux, I8_G), 0);
}

// The 4 columns of pair p's quad: the half of its panel (8 columns, split into two halves of
// K x 4 floats: 16 bytes per k) that holds them.
@inline function quadAt(b: usize, pstride: usize, pquad: usize, p: i32): usize {
  const Q = <usize>load<i32>(at(pquad, p));
  return b + (Q >> 1) * pstride + (Q & 1) * (pstride >> 1);
}

// Lane l of x in every lane.
@inline function lane0(x: v128): v128 {
  return v128.shuffle<i32>(x, x, 0, 0, 0, 0);
}
@inline function lane1(x: v128): v128 {
  return v128.shuffle<i32>(x, x, 1, 1, 1, 1);
}
@inline function lane2(x: v128): v128 {
  return v128.shuffle<i32>(x, x, 2, 2, 2, 2);
}
@inline function lane3(x: v128): v128 {
  return v128.shuffle<i32>(x, x, 3, 3, 3, 3);
}

@inline function fma(x: v128, w: v128, c: v128): v128 {
  return f32x4.relaxed_madd(x, w, c);
}

// Four chains: weights w0..w3 (a quad each, 16 bytes per k), rows x0..x3, over k in order from
// 0 (4 k per iteration: one 16-byte load of each row, its lanes broadcast in registers).
// Results to the pairs' EXACT slots e0..e3.
@inline function chains(K: i32, w0: usize, w1: usize, w2: usize, w3: usize, x0: usize, x1: usize, x2: usize, x3: usize, e0: usize, e1: usize, e2: usize, e3: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let kw: usize = 0;
  let kx: usize = 0;
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const xa = v128.load(x0 + kx), xb = v128.load(x1 + kx);
    const xc = v128.load(x2 + kx), xd = v128.load(x3 + kx);
    c0 = fma(lane0(xa), v128.load(w0 + kw), c0);
    c1 = fma(lane0(xb), v128.load(w1 + kw), c1);
    c2 = fma(lane0(xc), v128.load(w2 + kw), c2);
    c3 = fma(lane0(xd), v128.load(w3 + kw), c3);
    c0 = fma(lane1(xa), v128.load(w0 + kw, 16), c0);
    c1 = fma(lane1(xb), v128.load(w1 + kw, 16), c1);
    c2 = fma(lane1(xc), v128.load(w2 + kw, 16), c2);
    c3 = fma(lane1(xd), v128.load(w3 + kw, 16), c3);
    c0 = fma(lane2(xa), v128.load(w0 + kw, 32), c0);
    c1 = fma(lane2(xb), v128.load(w1 + kw, 32), c1);
    c2 = fma(lane2(xc), v128.load(w2 + kw, 32), c2);
    c3 = fma(lane2(xd), v128.load(w3 + kw, 32), c3);
    c0 = fma(lane3(xa), v128.load(w0 + kw, 48), c0);
    c1 = fma(lane3(xb), v128.load(w1 + kw, 48), c1);
    c2 = fma(lane3(xc), v128.load(w2 + kw, 48), c2);
    c3 = fma(lane3(xd), v128.load(w3 + kw, 48), c3);
    kw += 64;
    kx += 16;
  }
  for (; k < K; k++) {
    c0 = fma(v128.load32_splat(x0 + kx), v128.load(w0 + kw), c0);
    c1 = fma(v128.load32_splat(x1 + kx), v128.load(w1 + kw), c1);
    c2 = fma(v128.load32_splat(x2 + kx), v128.load(w2 + kw), c2);
    c3 = fma(v128.load32_splat(x3 + kx), v128.load(w3 + kw), c3);
    kw += 16;
    kx += 4;
  }
  v128.store(e0, c0);
  v128.store(e1, c1);
  v128.store(e2, c2);
  v128.store(e3, c3);
}

// Four rows x0..x3 against one quad w: chains as above, the weights loaded once for all four.
@inline function rows4(K: i32, w: usize, x0: usize, x1: usize, x2: usize, x3: usize, e0: usize, e1: usize, e2: usize, e3: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let kw: usize = 0;
  let kx: usize = 0;
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const xa = v128.load(x0 + kx), xb = v128.load(x1 + kx);
    const xc = v128.load(x2 + kx), xd = v128.load(x3 + kx);
    let b = v128.load(w + kw);
    c0 = fma(lane0(xa), b, c0);
    c1 = fma(lane0(xb), b, c1);
    c2 = fma(lane0(xc), b, c2);
    c3 = fma(lane0(xd), b, c3);
    b = v128.load(w + kw, 16);
    c0 = fma(lane1(xa), b, c0);
    c1 = fma(lane1(xb), b, c1);
    c2 = fma(lane1(xc), b, c2);
    c3 = fma(lane1(xd), b, c3);
    b = v128.load(w + kw, 32);
    c0 = fma(lane2(xa), b, c0);
    c1 = fma(lane2(xb), b, c1);
    c2 = fma(lane2(xc), b, c2);
    c3 = fma(lane2(xd), b, c3);
    b = v128.load(w + kw, 48);
    c0 = fma(lane3(xa), b, c0);
    c1 = fma(lane3(xb), b, c1);
    c2 = fma(lane3(xc), b, c2);
    c3 = fma(lane3(xd), b, c3);
    kw += 64;
    kx += 16;
  }
  for (; k < K; k++) {
    const b = v128.load(w + kw);
    c0 = fma(v128.load32_splat(x0 + kx), b, c0);
    c1 = fma(v128.load32_splat(x1 + kx), b, c1);
    c2 = fma(v128.load32_splat(x2 + kx), b, c2);
    c3 = fma(v128.load32_splat(x3 + kx), b, c3);
    kw += 16;
    kx += 4;
  }
  v128.store(e0, c0);
  v128.store(e1, c1);
  v128.store(e2, c2);
  v128.store(e3, c3);
}

// Pairs p0..p3 (any quads, any rows; repeats allowed) as four chains.
function pairs4(pb: usize, aux: usize, p0: i32, p1: i32, p2: i32, p3: i32): void {
  const K = param(pb, P_K);
  const a = <usize>param(pb, P_A);
  const lda = <usize>param(pb, P_LDA) << 2;
  const b = <usize>param(pb, P_B);
  const pstride = <usize>param(pb, P_PSTRIDE);
  const prow = <usize>word(aux, I8_PROW);
  const pquad = <usize>word(aux, I8_PQUAD);
  const exact = <usize>word(aux, I8_EXACT);
  chains(
    K,
    quadAt(b, pstride, pquad, p0),
    quadAt(b, pstride, pquad, p1),
    quadAt(b, pstride, pquad, p2),
    quadAt(b, pstride, pquad, p3),
    a + <usize>load<i32>(at(prow, p0)) * lda,
    a + <usize>load<i32>(at(prow, p1)) * lda,
    a + <usize>load<i32>(at(prow, p2)) * lda,
    a + <usize>load<i32>(at(prow, p3)) * lda,
    exact + (<usize>p0 << 4),
    exact + (<usize>p1 << 4),
    exact + (<usize>p2 << 4),
    exact + (<usize>p3 << 4),
  );
}

// Pairs p..p+3, one quad's: four rows sharing its weights.
function quad4(pb: usize, aux: usize, p: i32): void {
  const K = param(pb, P_K);
  const a = <usize>param(pb, P_A);
  const lda = <usize>param(pb, P_LDA) << 2;
  const prow = <usize>word(aux, I8_PROW);
  const e = <usize>word(aux, I8_EXACT) + (<usize>p << 4);
  rows4(
    K,
    quadAt(<usize>param(pb, P_B), <usize>param(pb, P_PSTRIDE), <usize>word(aux, I8_PQUAD), p),
    a + <usize>load<i32>(at(prow, p)) * lda,
    a + <usize>load<i32>(at(prow, p + 1)) * lda,
    a + <usize>load<i32>(at(prow, p + 2)) * lda,
    a + <usize>load<i32>(at(prow, p + 3)) * lda,
    e,
    e + 16,
    e + 32,
    e + 48,
  );
}

// Rescore whole runs of pairs (a run: one quad's) from g until at least `end`: four rows of a
// run at a time share its weights; the rest go four at a time, any mix. Returns where it
// stopped.
function rescoreRuns(pb: usize, aux: usize, g: i32, end: i32, n: i32): i32 {
  const pquad = <usize>word(aux, I8_PQUAD);
  let pend = 0;
  let q0 = 0, q1 = 0, q2 = 0;
  while (g < end) {
    const quad = load<i32>(at(pquad, g));
    let r = g + 1;
    while (r < n && load<i32>(at(pquad, r)) == quad) r++;
    for (; g + 4 <= r; g += 4) quad4(pb, aux, g);
    for (; g < r; g++) {
      if (pend == 0) q0 = g;
      else if (pend == 1) q1 = g;
      else if (pend == 2) q2 = g;
      else pairs4(pb, aux, q0, q1, q2, g);
      pend = (pend + 1) & 3;
    }
  }
  if (pend > 0) pairs4(pb, aux, q0, pend > 1 ? q1 : q0, pend > 2 ? q2 : q0, q0);
  return g;
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
      const p = load<f32>(exact + (<usize>load<i32>(at(slot + row, e)) << 4) + (<usize>(j & 3) << 2));
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
    g = rescoreRuns(pb, aux, g, min(n, g + step), n);
  }
  store<i32>(at(aux, I8_G), n);
  survivors(pb, aux, act);
  return 0;
}
