// The GEMM micro-kernels: B loads widened from bf16 / f16, register-blocked 6-, 4- and 1-row
// kernels over panels of 8 columns, and gemmTile, which covers one tile of rows and columns.

import { KC, P_A, P_B, P_K, P_LDA, P_LDB, P_PSTRIDE, PREC_BF16, PREC_F32, param } from "./params";

@inline function h2f(x: v128): v128 {
  // x: four u16 half-precision patterns widened to u32. Exact for normals and subnormals.
  const sign = i32x4.shl(v128.and(x, i32x4.splat(0x8000)), 16);
  const mag = i32x4.shl(v128.and(x, i32x4.splat(0x7fff)), 13);
  return v128.or(f32x4.mul(mag, f32x4.splat(5.192296858534828e33)), sign);
}

@inline export function bLo(p: usize, prec: i32): v128 {
  if (prec == PREC_F32) return v128.load(p);
  const v = v128.load(p);
  if (prec == PREC_BF16) return i32x4.shl(i32x4.extend_low_i16x8_u(v), 16);
  return h2f(i32x4.extend_low_i16x8_u(v));
}

@inline export function bHi(p: usize, prec: i32): v128 {
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
@inline export function kernel1(a: usize, b: usize, ldb: usize, kc: i32, c: usize, prec: i32, first: bool): void {
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
@inline export function gemmTile(pb: usize, n0t: i32, n1t: i32, c: usize, ldc: usize, prec: i32, r0: i32, r1: i32): void {
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
