// saeserve WASM-SIMD kernels (AssemblyScript). Built by `deno task wasm` into
// wasm/build/kernels.wasm with SIMD, relaxed SIMD (fused multiply-add) and a shared, imported
// memory. No allocation, no globals, no data segments: the host owns the memory layout and
// passes pointers, so any number of instances (one per pool worker) share one memory safely.
// The host calls `run_job(pb)`: word P_OP of the parameter block picks the kernel. Kernels
// are resumable: at checkpoints (every tile, row or few thousand elements) they count word
// P_PROGRESS up and, if the word at P_STOP is non-zero (the pool wants the workers for live
// work, the call was aborted, or the pool gave up), record where they are in the parameter
// block and return 1; posting the same block again continues. 0 means finished.
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
const P_RB = 23; // rows per checkpoint inside a tile (0: all M)
const P_R0 = 24; // first row of the first tile (where a stopped job resumes; the host zeroes it)
// Words common to every parameter block (the other words depend on the operation).
const P_PROGRESS = 29; // counted up at every checkpoint (the pool's watchdog reads it)
const P_OP = 30;
const P_STOP = 31; // address of the pool's stop word (0: none)

const OP_GEMM = 0; // GEMM / fused encode (the P_* words above)
const OP_AXPY = 1; // sparse rows times W, per output row (AX_* words)
const OP_TRANSPOSE_BLOCKS = 2; // a bounded step of the in-place block transpose (TB_* words)
const OP_COMPACT_BF16 = 3; // f32 -> bf16 in place over [i0, i1) (CP_* words)
const OP_COMPACT_F16 = 4; // f32 -> f16 in place over [i0, i1) (CP_* words)
const OP_TRANSPOSE_F32 = 5; // out-of-place f32 transpose of a column range (TF_* words)
const OP_MERGE = 6; // merge per-part selections into sorted rows (MG_* words)

// OP_AXPY: out row r (LDO floats apart) += SCALE[r] * sum over j in [ROWPTR[r], ROWPTR[r+1])
// of VAL[j] * W[IDX[j]], for r in [R0, R1); rows of W are LDW bytes, N (multiple of 8) wide.
const AX_OUT = 0;
const AX_LDO = 1;
const AX_W = 2;
const AX_LDW = 3;
const AX_IDX = 4;
const AX_VAL = 5;
const AX_ROWPTR = 6;
const AX_SCALE = 7;
const AX_R0 = 8;
const AX_R1 = 9;
const AX_N = 10;
const AX_PREC = 11;

// OP_TRANSPOSE_BLOCKS: see transposeStep.
const TB_PTR = 0;
const TB_ROWS = 1;
const TB_COLS = 2;
const TB_VISITED = 3;
const TB_STATE = 4;
const TB_BUDGET = 5;

// OP_COMPACT_*: elements [I0, I1) of the f32 array at PTR; f16 overflows are added to OVERFLOW.
const CP_PTR = 0;
const CP_I0 = 1;
const CP_I1 = 2;
const CP_OVERFLOW = 3;

// OP_MERGE: for rows [R0, R1), the candidates of PARTS per-part selections (DESC: PARTS
// descriptors of 4 words: values, indices, counts, bytes between rows) become the best CAP
// (every one when 0) in OVAL/OIDX (OSTRIDE entries per row), sorted by value descending then
// index ascending, with their count in OCNT.
const MG_DESC = 0;
const MG_PARTS = 1;
const MG_CAP = 2;
const MG_OVAL = 3;
const MG_OIDX = 4;
const MG_OCNT = 5;
const MG_OSTRIDE = 6;
const MG_R0 = 7;
const MG_R1 = 8;

// OP_TRANSPOSE_F32: DST[c * LDD + r] = SRC[r * COLS + c] for r < ROWS, c in [C0, C1).
const TF_SRC = 0;
const TF_ROWS = 1;
const TF_COLS = 2;
const TF_DST = 3;
const TF_LDD = 4;
const TF_C0 = 5;
const TF_C1 = 6;

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

// C tile [rows r0..r1, cols n0t..n1t) = A @ B for those rows and columns. c: the tile's origin
// (row r0, column n0t).
@inline function gemmTile(pb: usize, n0t: i32, n1t: i32, c: usize, ldc: usize, prec: i32, r0: i32, r1: i32): void {
  const lda = <usize>param(pb, P_LDA) << 2;
  const a = <usize>param(pb, P_A) + <usize>r0 * lda;
  const m = r1 - r0;
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

@inline function selectTile(pb: usize, n0t: i32, n1t: i32, c: usize, act: i32, r0: i32, r1: i32): void {
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

@inline function setParam(pb: usize, i: i32, v: i32): void {
  store<i32>(pb + (<usize>i << 2), v);
}

// A checkpoint: count progress; true when the pool asks the job to stop here.
@inline function checkpoint(pb: usize): bool {
  atomic.store<i32>(pb + (<usize>P_PROGRESS << 2), param(pb, P_PROGRESS) + 1);
  const flag = <usize>param(pb, P_STOP);
  return flag != 0 && atomic.load<i32>(flag) != 0;
}

// Columns [N0, N1) of the GEMM / fused encode, a tile of TN columns at a time, each tile in
// groups of RB rows. The fused encode adds to the selections already in OVAL/OIDX/OCNT (the
// host zeroes OCNT once), so a row's columns may be split over several calls in increasing
// order and the selections come out the same. Stopped at a checkpoint (before a row group),
// N0 and R0 are left at the next group.
@inline function run(pb: usize, prec: i32): i32 {
  const n0 = param(pb, P_N0);
  const n1 = param(pb, P_N1);
  const m = param(pb, P_M);
  const rb = param(pb, P_RB) > 0 ? param(pb, P_RB) : m;
  const act = param(pb, P_ACT);
  const dense = act == ACT_DENSE;
  const ldc = dense ? <usize>param(pb, P_LDC) << 2 : <usize>TN << 2;
  const c = <usize>param(pb, dense ? P_C : P_SCRATCH);
  let r = param(pb, P_R0);
  let first = true;
  for (let t = n0; t < n1; t += TN) {
    const te = min(t + TN, n1);
    const origin = dense ? c + (<usize>t << 2) : c;
    for (; r < m; r += rb) {
      if (!first && checkpoint(pb)) {
        setParam(pb, P_N0, t);
        setParam(pb, P_R0, r);
        return 1;
      }
      first = false;
      const re = min(r + rb, m);
      gemmTile(pb, t, te, origin + <usize>r * ldc, ldc, prec, r, re);
      if (!dense) selectTile(pb, t, te, c, act, r, re);
    }
    r = 0;
  }
  setParam(pb, P_N0, n1);
  setParam(pb, P_R0, 0);
  return 0;
}

/** Run the GEMM / fused encode described by the parameter block at `pb`. */
function encode(pb: usize): i32 {
  const prec = param(pb, P_PREC);
  if (prec == PREC_F32) return run(pb, PREC_F32);
  if (prec == PREC_BF16) return run(pb, PREC_BF16);
  return run(pb, PREC_F16);
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

// OP_AXPY over rows [R0, R1); stopped at a checkpoint, R0 is left at the next row.
function axpyJob(pb: usize): i32 {
  const out = <usize>param(pb, AX_OUT);
  const ldo = <usize>param(pb, AX_LDO) << 2;
  const w = <usize>param(pb, AX_W);
  const ldw = <usize>param(pb, AX_LDW);
  const idx = <usize>param(pb, AX_IDX);
  const val = <usize>param(pb, AX_VAL);
  const rowptr = <usize>param(pb, AX_ROWPTR);
  const scales = <usize>param(pb, AX_SCALE);
  const n = param(pb, AX_N);
  const prec = param(pb, AX_PREC);
  const r1 = param(pb, AX_R1);
  const r0 = param(pb, AX_R0);
  for (let r = r0; r < r1; r++) {
    if (r > r0 && checkpoint(pb)) {
      setParam(pb, AX_R0, r);
      return 1;
    }
    const j0 = load<i32>(rowptr + (<usize>r << 2));
    const count = load<i32>(rowptr + (<usize>(r + 1) << 2)) - j0;
    const o = out + <usize>r * ldo;
    const i = idx + (<usize>j0 << 2);
    const v = val + (<usize>j0 << 2);
    const scale = load<f32>(scales + (<usize>r << 2));
    if (prec == PREC_F32) axpyRows(o, n, w, ldw, i, v, count, scale, PREC_F32);
    else if (prec == PREC_BF16) axpyRows(o, n, w, ldw, i, v, count, scale, PREC_BF16);
    else axpyRows(o, n, w, ldw, i, v, count, scale, PREC_F16);
  }
  setParam(pb, AX_R0, r1);
  return 0;
}

@inline function isVisited(visited: usize, i: u32): bool {
  return ((load<u8>(visited + <usize>(i >> 3)) >> <u8>(i & 7)) & 1) != 0;
}

/**
 * A bounded step of the in-place transpose of a ROWS x COLS matrix of 32-byte blocks (row-major
 * to column-major), following permutation cycles; VISITED is a zeroed bitmap of ROWS * COLS
 * bits. Turns a row-major [K, N] f32 matrix into panels of 8 columns without a second copy.
 * STATE (64 bytes, zeroed before the first step) holds where the walk stopped: word 0 the next
 * cycle start, word 1 the position inside the current cycle, word 2 whether a cycle is open,
 * bytes 16..48 the block lifted out of the open cycle. Stops after about BUDGET block moves
 * or at a checkpoint (every 4096 moves) when asked; returns 0 once the whole matrix is done,
 * else 1.
 */
function transposeStep(pb: usize): i32 {
  const ptr = <usize>param(pb, TB_PTR);
  const rows = <u32>param(pb, TB_ROWS);
  const cols = <u32>param(pb, TB_COLS);
  const visited = <usize>param(pb, TB_VISITED);
  const state = <usize>param(pb, TB_STATE);
  const budget = param(pb, TB_BUDGET);
  const total = rows * cols; // < 2^27 blocks in a 4 GiB memory
  let start = load<u32>(state);
  let i = load<u32>(state, 4);
  let open = load<i32>(state, 8) != 0;
  let moves = 0;
  while (true) {
    if (!open) {
      while (start < total && isVisited(visited, start)) {
        start++;
        if (++moves >= budget || ((moves & 4095) == 0 && checkpoint(pb))) {
          store<u32>(state, start);
          store<i32>(state, 0, 8);
          return 1;
        }
      }
      if (start >= total) {
        store<u32>(state, start);
        store<i32>(state, 0, 8);
        return 0;
      }
      v128.store(state, v128.load(ptr + (<usize>start << 5)), 16);
      v128.store(state, v128.load(ptr + (<usize>start << 5), 16), 32);
      i = start;
      open = true;
    }
    while (true) {
      if (moves >= budget || ((moves & 4095) == 4095 && checkpoint(pb))) {
        store<u32>(state, start);
        store<u32>(state, i, 4);
        store<i32>(state, 1, 8);
        return 1;
      }
      moves++;
      store<u8>(visited + <usize>(i >> 3), load<u8>(visited + <usize>(i >> 3)) | <u8>(1 << <u8>(i & 7)));
      // Position i (column-major: c = i / rows, r = i % rows) takes the block from r * cols + c.
      const s = (i % rows) * cols + i / rows;
      const at = ptr + (<usize>i << 5);
      if (s == start) {
        v128.store(at, v128.load(state, 16));
        v128.store(at, v128.load(state, 32), 16);
        open = false;
        start++;
        break;
      }
      v128.store(at, v128.load(ptr + (<usize>s << 5)));
      v128.store(at, v128.load(ptr + (<usize>s << 5), 16), 16);
      i = s;
    }
  }
}

// OP_TRANSPOSE_F32 in 32 x 32 tiles; stopped at a checkpoint, C0 is left at the next tile.
function transposeF32(pb: usize): i32 {
  const src = <usize>param(pb, TF_SRC);
  const rows = param(pb, TF_ROWS);
  const cols = <usize>param(pb, TF_COLS);
  const dst = <usize>param(pb, TF_DST);
  const ldd = <usize>param(pb, TF_LDD);
  const c1 = param(pb, TF_C1);
  const first = param(pb, TF_C0);
  for (let c0 = first; c0 < c1; c0 += 32) {
    if (c0 > first && checkpoint(pb)) {
      setParam(pb, TF_C0, c0);
      return 1;
    }
    const ce = min(c0 + 32, c1);
    for (let r0 = 0; r0 < rows; r0 += 32) {
      const re = min(r0 + 32, rows);
      for (let c = c0; c < ce; c++) {
        const d = dst + ((<usize>c * ldd) << 2);
        for (let r = r0; r < re; r++) {
          store<f32>(d + (<usize>r << 2), load<f32>(src + ((<usize>r * cols + <usize>c) << 2)));
        }
      }
    }
  }
  setParam(pb, TF_C0, c1);
  return 0;
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
function sortBestFirst(vals: usize, idx: usize, n: i32): void {
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
function mergeJob(pb: usize): i32 {
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

// Elements per compaction checkpoint.
const COMPACT_STEP = 1 << 16;

// OP_COMPACT_*: [I0, I1) in steps; stopped at a checkpoint, I0 is left at the next step.
function compactJob(pb: usize, f16: bool): i32 {
  const ptr = <usize>param(pb, CP_PTR);
  const i1 = param(pb, CP_I1);
  const first = param(pb, CP_I0);
  for (let i = first; i < i1; i += COMPACT_STEP) {
    if (i > first && checkpoint(pb)) {
      setParam(pb, CP_I0, i);
      return 1;
    }
    const end = min(i + COMPACT_STEP, i1);
    if (f16) setParam(pb, CP_OVERFLOW, param(pb, CP_OVERFLOW) + compactF16(ptr, i, end));
    else compactBf16(ptr, i, end);
  }
  setParam(pb, CP_I0, i1);
  return 0;
}

// In place: f32 values [i0, n) become bf16 values (round to nearest even) at the same index.
@inline function compactBf16(ptr: usize, i0: i32, n: i32): void {
  for (let i = i0; i < n; i++) {
    const x = load<u32>(ptr + (<usize>i << 2));
    store<u16>(ptr + (<usize>i << 1), <u16>((x + 0x7fff + ((x >> 16) & 1)) >> 16));
  }
}

// In place: f32 values [i0, n) become f16 values (round to nearest even) at the same index.
// Returns how many values overflowed the f16 range (they become infinities).
@inline function compactF16(ptr: usize, i0: i32, n: i32): i32 {
  let overflow = 0;
  for (let i = i0; i < n; i++) {
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

/**
 * Run (or continue) the job whose parameter block is at `pb` (word P_OP picks the kernel).
 * Returns 0 when it is finished, 1 when it stopped early (post the block again to continue).
 * Compaction writes element i at byte 2i, over elements below i: the host runs ranges in
 * increasing order, and ranges in one round only when they start at or above half its end.
 */
export function run_job(pb: usize): i32 {
  const op = param(pb, P_OP);
  if (op == OP_GEMM) return encode(pb);
  if (op == OP_AXPY) return axpyJob(pb);
  if (op == OP_TRANSPOSE_BLOCKS) return transposeStep(pb);
  if (op == OP_COMPACT_BF16) return compactJob(pb, false);
  if (op == OP_COMPACT_F16) return compactJob(pb, true);
  if (op == OP_TRANSPOSE_F32) return transposeF32(pb);
  if (op == OP_MERGE) return mergeJob(pb);
  unreachable();
  return 0;
}

/**
 * Test hook for the pool's watchdog: a job that never finishes on its own. Spins until the
 * word at `flag` (the pool's cancel word) becomes non-zero.
 */
export function hang(flag: usize): void {
  while (atomic.load<i32>(flag) == 0) {
    // spin
  }
}
