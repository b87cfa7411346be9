// saeserve WASM-SIMD kernels (AssemblyScript). Built by `deno task wasm` into
// wasm/build/kernels.wasm with SIMD, relaxed SIMD (fused multiply-add) and a shared, imported
// memory. No allocation happens here: the host owns the memory layout and passes pointers.
//
// GEMM: C[m, n0:n1] = A[m, K] @ B[K, n0:n1], B stored in panels of 8 columns (f32, bf16 or
// f16). Element (k, j) of panel p lives at B + p * panelStride + k * ldb + (j % 8) * esize:
// packed panels (ldb = 8 * esize, panelStride = K * ldb) or a row-major matrix whose row
// length is a multiple of 8 (ldb = N * esize, panelStride = 8 * esize).
//
// Encode fuses bias, activation and top-k selection into the GEMM: columns are computed in
// tiles of TN into a small scratch C tile, then pushed into per-row bounded heaps (or lists),
// so the dense [rows, d_sae] pre-activation is never written out whole.

const PREC_F32: i32 = 0;
const PREC_BF16: i32 = 1;
const PREC_F16: i32 = 2;

const ACT_DENSE: i32 = 0; // write pre-activations to C
const ACT_RELU: i32 = 1; // h = p + bias; keep h > 0
const ACT_JUMPRELU: i32 = 2; // h = p + bias; keep h > thr && h > 0
const ACT_GATED: i32 = 3; // g = p + bias; m = p * scale + bmag; keep m if g > 0 && m > 0

const TN: i32 = 128; // columns per fused tile
const KC: i32 = 256; // depth per cache block

// Parameter block (i32 words).
const P_A = 0;
const P_LDA = 1; // elements
const P_M = 2;
const P_B = 3;
const P_K = 4;
const P_N0 = 5; // first column (multiple of 8)
const P_N1 = 6; // end column (multiple of 8)
const P_LDB = 7; // bytes between consecutive k within a panel
const P_PSTRIDE = 8; // bytes between panels
const P_PREC = 9;
const P_ACT = 10;
const P_BIAS = 11;
const P_THR = 12;
const P_BMAG = 13;
const P_CAP = 14; // heap capacity per row; 0 = keep every candidate (list)
const P_OVAL = 15;
const P_OIDX = 16;
const P_OCNT = 17;
const P_SCRATCH = 18;
const P_C = 19; // dense output base (ACT_DENSE)
const P_LDC = 20; // dense output row length (elements)
const P_OSTRIDE = 21; // entries per row in the output lists / heaps
const P_NREAL = 22; // real column count (columns >= NREAL are padding)

@inline function param(pb: usize, i: i32): i32 {
  return load<i32>(pb + (<usize>i << 2));
}

@inline function h2f(x: v128): v128 {
  // x: four u16 half-precision patterns widened to u32. Exact for normals and subnormals.
  const sign = i32x4.shl(v128.and(x, i32x4.splat(0x8000)), 16);
  const mag = i32x4.shl(v128.and(x, i32x4.splat(0x7fff)), 13);
  return v128.or(f32x4.mul(mag, f32x4.splat(5.192296858534828e33)), sign);
}

@inline function bLo(p: usize, prec: i32): v128 {
  if (prec == PREC_F32) return v128.load(p);
  const v = v128.load(p);
  if (prec == PREC_BF16) return i32x4.shl(i32x4.extend_low_i16x8_u(v), 16);
  return h2f(i32x4.extend_low_i16x8_u(v));
}

@inline function bHi(p: usize, prec: i32): v128 {
  if (prec == PREC_F32) return v128.load(p, 16);
  const v = v128.load(p);
  if (prec == PREC_BF16) return i32x4.shl(i32x4.extend_high_i16x8_u(v), 16);
  return h2f(i32x4.extend_high_i16x8_u(v));
}

// 4 rows x 8 columns, kc steps. c points at row 0, column 0 of the tile; ldc in bytes.
@inline function kernel4(a: usize, lda: usize, b: usize, ldb: usize, kc: i32, c: usize, ldc: usize, prec: i32, first: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  if (!first) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(c + ldc); c11 = v128.load(c + ldc, 16);
    c20 = v128.load(c + 2 * ldc); c21 = v128.load(c + 2 * ldc, 16);
    c30 = v128.load(c + 3 * ldc); c31 = v128.load(c + 3 * ldc, 16);
  }
  const a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda;
  let off: usize = 0;
  for (let k = 0; k < kc; k++) {
    const b0 = bLo(b, prec);
    const b1 = bHi(b, prec);
    const x0 = v128.load32_splat(a + off);
    c00 = f32x4.relaxed_madd(x0, b0, c00);
    c01 = f32x4.relaxed_madd(x0, b1, c01);
    const x1 = v128.load32_splat(a1 + off);
    c10 = f32x4.relaxed_madd(x1, b0, c10);
    c11 = f32x4.relaxed_madd(x1, b1, c11);
    const x2 = v128.load32_splat(a2 + off);
    c20 = f32x4.relaxed_madd(x2, b0, c20);
    c21 = f32x4.relaxed_madd(x2, b1, c21);
    const x3 = v128.load32_splat(a3 + off);
    c30 = f32x4.relaxed_madd(x3, b0, c30);
    c31 = f32x4.relaxed_madd(x3, b1, c31);
    off += 4;
    b += ldb;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c + ldc, c10); v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20); v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30); v128.store(c + 3 * ldc, c31, 16);
}

// 6 rows x 8 columns, kc steps (12 accumulators: fits the 15 SIMD registers V8 allocates).
@inline function kernel6(a: usize, lda: usize, b: usize, ldb: usize, kc: i32, c: usize, ldc: usize, prec: i32, first: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0), c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  if (!first) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(c + ldc); c11 = v128.load(c + ldc, 16);
    c20 = v128.load(c + 2 * ldc); c21 = v128.load(c + 2 * ldc, 16);
    c30 = v128.load(c + 3 * ldc); c31 = v128.load(c + 3 * ldc, 16);
    c40 = v128.load(c + 4 * ldc); c41 = v128.load(c + 4 * ldc, 16);
    c50 = v128.load(c + 5 * ldc); c51 = v128.load(c + 5 * ldc, 16);
  }
  const a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, a4 = a + 4 * lda, a5 = a + 5 * lda;
  let off: usize = 0;
  for (let k = 0; k < kc; k++) {
    const b0 = bLo(b, prec);
    const b1 = bHi(b, prec);
    let x = v128.load32_splat(a + off);
    c00 = f32x4.relaxed_madd(x, b0, c00);
    c01 = f32x4.relaxed_madd(x, b1, c01);
    x = v128.load32_splat(a1 + off);
    c10 = f32x4.relaxed_madd(x, b0, c10);
    c11 = f32x4.relaxed_madd(x, b1, c11);
    x = v128.load32_splat(a2 + off);
    c20 = f32x4.relaxed_madd(x, b0, c20);
    c21 = f32x4.relaxed_madd(x, b1, c21);
    x = v128.load32_splat(a3 + off);
    c30 = f32x4.relaxed_madd(x, b0, c30);
    c31 = f32x4.relaxed_madd(x, b1, c31);
    x = v128.load32_splat(a4 + off);
    c40 = f32x4.relaxed_madd(x, b0, c40);
    c41 = f32x4.relaxed_madd(x, b1, c41);
    x = v128.load32_splat(a5 + off);
    c50 = f32x4.relaxed_madd(x, b0, c50);
    c51 = f32x4.relaxed_madd(x, b1, c51);
    off += 4;
    b += ldb;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c + ldc, c10); v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20); v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30); v128.store(c + 3 * ldc, c31, 16);
  v128.store(c + 4 * ldc, c40); v128.store(c + 4 * ldc, c41, 16);
  v128.store(c + 5 * ldc, c50); v128.store(c + 5 * ldc, c51, 16);
}

// 1 row x 8 columns, kc steps. The sum runs over k in order, like the wider kernels, so a row
// gets bit-identical results whether it is encoded alone or inside a batch.
@inline function kernel1(a: usize, b: usize, ldb: usize, kc: i32, c: usize, prec: i32, first: bool): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  if (!first) {
    c0 = v128.load(c);
    c1 = v128.load(c, 16);
  }
  for (let k = 0; k < kc; k++) {
    const x0 = v128.load32_splat(a);
    c0 = f32x4.relaxed_madd(x0, bLo(b, prec), c0);
    c1 = f32x4.relaxed_madd(x0, bHi(b, prec), c1);
    a += 4;
    b += ldb;
  }
  v128.store(c, c0);
  v128.store(c, c1, 16);
}

// 1 row x 16 columns (two panels at once: four independent chains, each summing k in order).
@inline function kernel1x2(a: usize, b: usize, b2: usize, ldb: usize, kc: i32, c: usize, prec: i32, first: bool): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  if (!first) {
    c0 = v128.load(c);
    c1 = v128.load(c, 16);
    c2 = v128.load(c, 32);
    c3 = v128.load(c, 48);
  }
  for (let k = 0; k < kc; k++) {
    const x0 = v128.load32_splat(a);
    c0 = f32x4.relaxed_madd(x0, bLo(b, prec), c0);
    c1 = f32x4.relaxed_madd(x0, bHi(b, prec), c1);
    c2 = f32x4.relaxed_madd(x0, bLo(b2, prec), c2);
    c3 = f32x4.relaxed_madd(x0, bHi(b2, prec), c3);
    a += 4;
    b += ldb;
    b2 += ldb;
  }
  v128.store(c, c0);
  v128.store(c, c1, 16);
  v128.store(c, c2, 32);
  v128.store(c, c3, 48);
}

// C tile [m, cols n0t..n1t) = A @ B for those columns. c: tile origin (row 0, column n0t).
@inline function gemmTile(pb: usize, n0t: i32, n1t: i32, c: usize, ldc: usize, prec: i32): void {
  const a = <usize>param(pb, P_A);
  const lda = <usize>param(pb, P_LDA) << 2;
  const m = param(pb, P_M);
  const b = <usize>param(pb, P_B);
  const K = param(pb, P_K);
  const ldb = <usize>param(pb, P_LDB);
  const pstride = <usize>param(pb, P_PSTRIDE);
  const m6 = m - m % 6;
  const m4 = m6 + ((m - m6) & ~3);
  const kcMax = m == 1 ? K : KC;
  for (let k0 = 0; k0 < K; k0 += kcMax) {
    const kc = min(kcMax, K - k0);
    const first = k0 == 0;
    const ak = a + (<usize>k0 << 2);
    if (m4 == 0) {
      // Rows below a 4-row block (single-token requests): two panels per pass.
      let n = n0t;
      for (; n + 16 <= n1t; n += 16) {
        const bp = b + <usize>(n >> 3) * pstride + <usize>k0 * ldb;
        const cp = c + (<usize>(n - n0t) << 2);
        for (let r = 0; r < m; r++) {
          kernel1x2(ak + <usize>r * lda, bp, bp + pstride, ldb, kc, cp + <usize>r * ldc, prec, first);
        }
      }
      for (; n < n1t; n += 8) {
        const bp = b + <usize>(n >> 3) * pstride + <usize>k0 * ldb;
        const cp = c + (<usize>(n - n0t) << 2);
        for (let r = 0; r < m; r++) kernel1(ak + <usize>r * lda, bp, ldb, kc, cp + <usize>r * ldc, prec, first);
      }
      continue;
    }
    for (let n = n0t; n < n1t; n += 8) {
      const bp = b + <usize>(n >> 3) * pstride + <usize>k0 * ldb;
      const cp = c + (<usize>(n - n0t) << 2);
      for (let r = 0; r < m6; r += 6) {
        kernel6(ak + <usize>r * lda, lda, bp, ldb, kc, cp + <usize>r * ldc, ldc, prec, first);
      }
      for (let r = m6; r < m4; r += 4) {
        kernel4(ak + <usize>r * lda, lda, bp, ldb, kc, cp + <usize>r * ldc, ldc, prec, first);
      }
      for (let r = m4; r < m; r++) {
        kernel1(ak + <usize>r * lda, bp, ldb, kc, cp + <usize>r * ldc, prec, first);
      }
    }
  }
}

// Push (v, j) into row r's selection: a bounded min-heap keyed by (value, -index) when cap > 0
// (so the root is the worst kept entry; ties keep the lower index), else an append-only list.
@inline function worse(va: f32, ia: i32, vb: f32, ib: i32): bool {
  return va < vb || (va == vb && ia > ib);
}

function push(vals: usize, idx: usize, cnt: usize, cap: i32, v: f32, j: i32): void {
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

@inline function selectTile(pb: usize, n0t: i32, n1t: i32, c: usize, act: i32): void {
  const m = param(pb, P_M);
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
  for (let r = 0; r < m; r++) {
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

@inline function run(pb: usize, prec: i32): void {
  const n0 = param(pb, P_N0);
  const n1 = param(pb, P_N1);
  const act = param(pb, P_ACT);
  if (act == ACT_DENSE) {
    const ldc = <usize>param(pb, P_LDC) << 2;
    gemmTile(pb, n0, n1, <usize>param(pb, P_C) + (<usize>n0 << 2), ldc, prec);
    return;
  }
  const m = param(pb, P_M);
  const ocnt = <usize>param(pb, P_OCNT);
  for (let r = 0; r < m; r++) store<i32>(ocnt + (<usize>r << 2), 0);
  const scratch = <usize>param(pb, P_SCRATCH);
  for (let t = n0; t < n1; t += TN) {
    const te = min(t + TN, n1);
    gemmTile(pb, t, te, scratch, <usize>TN << 2, prec);
    selectTile(pb, t, te, scratch, act);
  }
}

/** Run the GEMM / fused encode described by the parameter block at `pb`. */
export function encode(pb: usize): void {
  const prec = param(pb, P_PREC);
  if (prec == PREC_F32) run(pb, PREC_F32);
  else if (prec == PREC_BF16) run(pb, PREC_BF16);
  else run(pb, PREC_F16);
}

@inline function axpyRows(out: usize, n: i32, w: usize, ldw: usize, idx: usize, val: usize, count: i32, scale: f32, prec: i32): void {
  for (let j = 0; j < count; j++) {
    const v = f32x4.splat(load<f32>(val + (<usize>j << 2)) * scale);
    const row = w + <usize>load<i32>(idx + (<usize>j << 2)) * ldw;
    if (prec == PREC_F32) {
      for (let c = 0; c < n; c += 4) {
        const o = out + (<usize>c << 2);
        v128.store(o, f32x4.relaxed_madd(v, v128.load(row + (<usize>c << 2)), v128.load(o)));
      }
    } else {
      for (let c = 0; c < n; c += 8) {
        const o = out + (<usize>c << 2);
        const p = row + (<usize>c << 1);
        v128.store(o, f32x4.relaxed_madd(v, bLo(p, prec), v128.load(o)));
        v128.store(o, f32x4.relaxed_madd(v, bHi(p, prec), v128.load(o, 16)), 16);
      }
    }
  }
}

/**
 * out[0:n] += scale * sum_j val[j] * W[idx[j]] where W has rows of `ldw` bytes; n is a
 * multiple of 8 (rows are padded).
 */
export function axpy_rows(out: usize, n: i32, w: usize, ldw: usize, idx: usize, val: usize, count: i32, scale: f32, prec: i32): void {
  if (prec == PREC_F32) axpyRows(out, n, w, ldw, idx, val, count, scale, PREC_F32);
  else if (prec == PREC_BF16) axpyRows(out, n, w, ldw, idx, val, count, scale, PREC_BF16);
  else axpyRows(out, n, w, ldw, idx, val, count, scale, PREC_F16);
}

/**
 * In-place transpose of a rows x cols matrix of 32-byte blocks (row-major to column-major),
 * following permutation cycles; `visited` is a zeroed bitmap of rows * cols bits. Turns a
 * row-major [K, N] f32 matrix into panels of 8 columns without a second copy.
 */
export function transpose_blocks(ptr: usize, rows: i32, cols: i32, visited: usize): void {
  const total = <i64>rows * <i64>cols;
  for (let start: i64 = 0; start < total; start++) {
    if ((load<u8>(visited + <usize>(start >> 3)) >> <u8>(start & 7)) & 1) continue;
    const tmp0 = v128.load(ptr + <usize>(start << 5));
    const tmp1 = v128.load(ptr + <usize>(start << 5), 16);
    let i = start;
    while (true) {
      store<u8>(visited + <usize>(i >> 3), load<u8>(visited + <usize>(i >> 3)) | <u8>(1 << <u8>(i & 7)));
      // Position i (column-major: c = i / rows, r = i % rows) takes the block from r * cols + c.
      const s = (i % rows) * cols + i / rows;
      if (s == start) {
        v128.store(ptr + <usize>(i << 5), tmp0);
        v128.store(ptr + <usize>(i << 5), tmp1, 16);
        break;
      }
      v128.store(ptr + <usize>(i << 5), v128.load(ptr + <usize>(s << 5)));
      v128.store(ptr + <usize>(i << 5), v128.load(ptr + <usize>(s << 5), 16), 16);
      i = s;
    }
  }
}

/** In place: n f32 values become n bf16 values (round to nearest even) at the same address. */
export function compact_bf16(ptr: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const x = load<u32>(ptr + (<usize>i << 2));
    store<u16>(ptr + (<usize>i << 1), <u16>((x + 0x7fff + ((x >> 16) & 1)) >> 16));
  }
}

/**
 * In place: n f32 values become n f16 values (round to nearest even) at the same address.
 * Returns how many values overflowed the f16 range (they become infinities).
 */
export function compact_f16(ptr: usize, n: i32): i32 {
  let overflow = 0;
  for (let i = 0; i < n; i++) {
    const x = load<u32>(ptr + (<usize>i << 2));
    const sign = (x >> 16) & 0x8000;
    const exponent = <i32>((x >> 23) & 0xff);
    let mantissa = x & 0x7fffff;
    const e = exponent - 127 + 15;
    let out: u32;
    if (exponent == 0xff || e >= 31) {
      out = sign | 0x7c00;
      overflow++;
    } else if (e <= 0) {
      if (e < -10) out = sign;
      else {
        mantissa |= 0x800000;
        const shift = <u32>(14 - e);
        const half: u32 = 1 << (shift - 1);
        let v = mantissa >> shift;
        const rest = mantissa & ((1 << shift) - 1);
        if (rest > half || (rest == half && (v & 1))) v++;
        out = sign | v;
      }
    } else {
      let v = (<u32>e << 10) | (mantissa >> 13);
      const rest = mantissa & 0x1fff;
      if (rest > 0x1000 || (rest == 0x1000 && (v & 1))) v++;
      if ((v & 0x7fff) >= 0x7c00) overflow++;
      out = sign | v;
    }
    store<u16>(ptr + (<usize>i << 1), <u16>out);
  }
  return overflow;
}
