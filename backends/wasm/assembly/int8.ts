// The int8 encode (PREC_INT8): W_enc quantized per column (OP_QUANT_I8), activations per row
// (phase 0, int8_rows.ts); the relaxed 8-bit dot takes the weights as its signed operand and the
// activations offset by 64 (q + 64 in [1, 127]) as its 7-bit operand, so every product is exact
// whether a CPU reads that operand as signed or unsigned, and no pair sum saturates 16 bits
// (127 * 127 * 2 < 32767). The offset is taken back out with the column's sum of q: sum w (q +
// 64) - 64 sum w = sum w q, exactly, in i32. Phase 1 turns each tile's sums into estimates of the
// pre-activations and selects candidates (int8_select.ts: admitted on a proven upper bound,
// ranked by the estimate), then sorts each row's selection best first; phases 2 and 3
// (int8_rescore.ts; once every part is through phase 1: a second round, or for a small block
// the first round's follow-up, OP_I8_FINISH) cut the candidates to the best CUT over all parts
// and rescore them exactly in f32, as the f32 encode sums them.

import {
  checkpoint,
  FN_BLOCKS,
  FN_MERGE,
  FN_PARTS,
  I8_A,
  I8_B,
  I8_COL,
  I8_KP,
  I8_LDA,
  I8_NPAD,
  I8_PARTS,
  I8_ROW,
  P_ACT,
  P_AUX,
  P_CAP,
  P_M,
  P_N0,
  P_N1,
  P_OCNT,
  P_OIDX,
  P_OSTRIDE,
  P_OVAL,
  P_PHASE,
  P_R0,
  P_RB,
  P_SCRATCH,
  param,
  QI_COL,
  QI_DST,
  QI_K,
  QI_KP,
  QI_NPAD,
  QI_P0,
  QI_P1,
  QI_SRC,
  setParam,
  TN,
} from "./params";
import { cutAndPair, rescorePairs } from "./int8_rescore";
import { quantizeRows } from "./int8_rows";
import { selectI8 } from "./int8_select";
import { mergeJob, sortBestFirst } from "./select";

// Candidate scales per column: max|w| / 127 times 1 - i / 32 for i < ALPHAS.
const ALPHAS: i32 = 16;

@inline function quantize(w: f32, inv: f32): i32 {
  const q = <i32>nearest(w * inv);
  return q > 127 ? 127 : q < -127 ? -127 : q;
}

// Column c of the 8-column f32 panel at src (K deep) into the int8 panel at dst.
function quantizeColumn(src: usize, K: i32, dst: usize, col: usize, npad: usize): void {
  let amax: f32 = 0;
  for (let k = 0; k < K; k++) amax = max(amax, abs(load<f32>(src + (<usize>k << 5))));
  let scale: f32 = 0;
  if (amax > 0) {
    // The symmetric scale with the least squared error among a few clipping levels.
    let best: f32 = Infinity;
    for (let i = 0; i < ALPHAS; i++) {
      const s = amax / 127 * (1 - <f32>i / 32);
      const inv: f32 = 1 / s;
      let err: f32 = 0;
      for (let k = 0; k < K; k++) {
        const w = load<f32>(src + (<usize>k << 5));
        const d = w - s * <f32>quantize(w, inv);
        err += d * d;
      }
      if (err < best) {
        best = err;
        scale = s;
      }
    }
  }
  const inv: f32 = scale > 0 ? 1 / scale : 0;
  let sum: i32 = 0;
  let r2: f64 = 0;
  let q2: f64 = 0;
  for (let k = 0; k < K; k++) {
    const w = load<f32>(src + (<usize>k << 5));
    const q = scale > 0 ? quantize(w, inv) : 0;
    store<i8>(dst + (<usize>(k >> 2) << 5) + <usize>(k & 3), <i8>q);
    sum += q;
    const d = <f64>w - <f64>scale * <f64>q;
    r2 += d * d;
    q2 += <f64>q * <f64>q;
  }
  const gamma: f64 = 1.01 * <f64>(K + 2) / 16777216.0;
  const r = sqrt(r2);
  const qn = <f64>scale * sqrt(q2);
  store<f32>(col, scale);
  store<i32>(col + (npad << 2), sum);
  store<f32>(col + (npad << 3), <f32>((r + gamma * (r + qn)) * (1 + 1e-6)));
  store<f32>(col + npad * 12, <f32>(qn * (1 + 1e-6)));
}

/** OP_QUANT_I8: panels [P0, P1); stopped at a checkpoint, P0 is left at the next panel. */
export function quantJob(pb: usize): i32 {
  const src = <usize>param(pb, QI_SRC);
  const K = param(pb, QI_K);
  const kp = param(pb, QI_KP);
  const dst = <usize>param(pb, QI_DST);
  const col = <usize>param(pb, QI_COL);
  const npad = <usize>param(pb, QI_NPAD);
  const p1 = param(pb, QI_P1);
  const first = param(pb, QI_P0);
  for (let p = first; p < p1; p++) {
    if (p > first && checkpoint(pb)) {
      setParam(pb, QI_P0, p);
      return 1;
    }
    const d = dst + <usize>p * <usize>kp * 8;
    memory.fill(d, 0, <usize>kp * 8);
    for (let c = 0; c < 8; c++) {
      const j = <usize>(p * 8 + c);
      quantizeColumn(
        src + <usize>p * <usize>K * 32 + (<usize>c << 2),
        K,
        d + (<usize>c << 2),
        col + (j << 2),
        npad,
      );
    }
  }
  setParam(pb, QI_P0, p1);
  return 0;
}

@inline function dot(w: v128, x: v128, acc: v128): v128 {
  return i32x4.relaxed_dot_i8x16_i7x16_add_s(w, x, acc);
}

// Estimates of 4 columns of one row from their i32 sums: p~ = (sum w (q + 64) - 64 sum w) times
// both scales.
@inline function estimate(acc: v128, j: usize, cols: usize, npad: usize, rowData: usize): v128 {
  const sum = v128.load(cols + (npad << 2) + (j << 2));
  const q = f32x4.convert_i32x4_s(i32x4.sub(acc, i32x4.shl(sum, 6)));
  return f32x4.mul(q, f32x4.mul(v128.load(cols + (j << 2)), f32x4.splat(load<f32>(rowData))));
}

// 6 rows x 8 columns over every k (12 i32 accumulators), estimates into c (ldc bytes per row).
@inline function kernel6(a: usize, lda: usize, b: usize, groups: i32, c: usize, ldc: usize, j: usize, cols: usize, npad: usize, rows: usize): void {
  let c00 = i32x4.splat(0), c01 = i32x4.splat(0), c10 = i32x4.splat(0), c11 = i32x4.splat(0);
  let c20 = i32x4.splat(0), c21 = i32x4.splat(0), c30 = i32x4.splat(0), c31 = i32x4.splat(0);
  let c40 = i32x4.splat(0), c41 = i32x4.splat(0), c50 = i32x4.splat(0), c51 = i32x4.splat(0);
  const a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, a4 = a + 4 * lda, a5 = a + 5 * lda;
  let off: usize = 0;
  for (let g = 0; g < groups; g++) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let x = v128.load32_splat(a + off);
    c00 = dot(b0, x, c00);
    c01 = dot(b1, x, c01);
    x = v128.load32_splat(a1 + off);
    c10 = dot(b0, x, c10);
    c11 = dot(b1, x, c11);
    x = v128.load32_splat(a2 + off);
    c20 = dot(b0, x, c20);
    c21 = dot(b1, x, c21);
    x = v128.load32_splat(a3 + off);
    c30 = dot(b0, x, c30);
    c31 = dot(b1, x, c31);
    x = v128.load32_splat(a4 + off);
    c40 = dot(b0, x, c40);
    c41 = dot(b1, x, c41);
    x = v128.load32_splat(a5 + off);
    c50 = dot(b0, x, c50);
    c51 = dot(b1, x, c51);
    off += 4;
    b += 32;
  }
  v128.store(c, estimate(c00, j, cols, npad, rows));
  v128.store(c, estimate(c01, j + 4, cols, npad, rows), 16);
  v128.store(c + ldc, estimate(c10, j, cols, npad, rows + 16));
  v128.store(c + ldc, estimate(c11, j + 4, cols, npad, rows + 16), 16);
  v128.store(c + 2 * ldc, estimate(c20, j, cols, npad, rows + 32));
  v128.store(c + 2 * ldc, estimate(c21, j + 4, cols, npad, rows + 32), 16);
  v128.store(c + 3 * ldc, estimate(c30, j, cols, npad, rows + 48));
  v128.store(c + 3 * ldc, estimate(c31, j + 4, cols, npad, rows + 48), 16);
  v128.store(c + 4 * ldc, estimate(c40, j, cols, npad, rows + 64));
  v128.store(c + 4 * ldc, estimate(c41, j + 4, cols, npad, rows + 64), 16);
  v128.store(c + 5 * ldc, estimate(c50, j, cols, npad, rows + 80));
  v128.store(c + 5 * ldc, estimate(c51, j + 4, cols, npad, rows + 80), 16);
}

// 1 row x 8 columns over every k: even and odd groups in separate chains (integer sums, so
// the split changes nothing), estimates into c.
@inline function kernel1i8(a: usize, b: usize, groups: i32, c: usize, j: usize, cols: usize, npad: usize, rows: usize): void {
  let c0 = i32x4.splat(0), c1 = i32x4.splat(0), c2 = i32x4.splat(0), c3 = i32x4.splat(0);
  let g = 0;
  for (; g + 2 <= groups; g += 2) {
    const x = v128.load32_splat(a);
    c0 = dot(v128.load(b), x, c0);
    c1 = dot(v128.load(b, 16), x, c1);
    const y = v128.load32_splat(a, 4);
    c2 = dot(v128.load(b, 32), y, c2);
    c3 = dot(v128.load(b, 48), y, c3);
    a += 8;
    b += 64;
  }
  if (g < groups) {
    const x = v128.load32_splat(a);
    c0 = dot(v128.load(b), x, c0);
    c1 = dot(v128.load(b, 16), x, c1);
  }
  v128.store(c, estimate(i32x4.add(c0, c2), j, cols, npad, rows));
  v128.store(c, estimate(i32x4.add(c1, c3), j + 4, cols, npad, rows), 16);
}

// Estimates for the tile [rows r0..r1, cols n0t..n1t) into c (rows of TN floats).
@inline function tileI8(aux: usize, n0t: i32, n1t: i32, c: usize, r0: i32, r1: i32): void {
  const lda = <usize>load<i32>(aux + (I8_LDA << 2));
  const a = <usize>load<i32>(aux + (I8_A << 2)) + <usize>r0 * lda;
  const b = <usize>load<i32>(aux + (I8_B << 2));
  const kp = load<i32>(aux + (I8_KP << 2));
  const cols = <usize>load<i32>(aux + (I8_COL << 2));
  const npad = <usize>load<i32>(aux + (I8_NPAD << 2));
  const rows = <usize>load<i32>(aux + (I8_ROW << 2)) + (<usize>r0 << 4);
  const groups = kp >> 2;
  const pstride = <usize>kp * 8;
  const ldc = <usize>TN << 2;
  const m = r1 - r0;
  const m6 = m - m % 6;
  for (let n = n0t; n < n1t; n += 8) {
    const bp = b + <usize>(n >> 3) * pstride;
    const cp = c + (<usize>(n - n0t) << 2);
    const j = <usize>n;
    for (let r = 0; r < m6; r += 6) {
      kernel6(a + <usize>r * lda, lda, bp, groups, cp + <usize>r * ldc, ldc, j, cols, npad, rows + (<usize>r << 4));
    }
    for (let r = m6; r < m; r++) {
      kernel1i8(a + <usize>r * lda, bp, groups, cp + <usize>r * ldc, j, cols, npad, rows + (<usize>r << 4));
    }
  }
}

// Each row's selection sorted best first (value descending, index ascending), for the cut.
function sortRows(pb: usize): void {
  const m = param(pb, P_M);
  const stride = <usize>param(pb, P_OSTRIDE) << 2;
  const vals = <usize>param(pb, P_OVAL);
  const idx = <usize>param(pb, P_OIDX);
  const cnt = <usize>param(pb, P_OCNT);
  for (let r = 0; r < m; r++) {
    const row = <usize>r * stride;
    sortBestFirst(vals + row, idx + row, load<i32>(cnt + (<usize>r << 2)));
  }
}

/**
 * The int8 fused encode of columns [N0, N1), one part of a row block. Round one: phase 0
 * quantizes the rows, phase 1 selects candidates tile by tile as the f32 encode does and sorts
 * them, and the job finishes at phase 2. Round two (every part through phase 1): phase 2 cuts
 * and pairs, phase 3 rescores, and the block is left at phase 4 (done). A lone part (PARTS 1)
 * runs every phase in one round. Stopped at a checkpoint, N0 / R0 (phase 1) or I8_G (phase 3)
 * are left where it goes on.
 */
export function encodeI8(pb: usize, act: i32): i32 {
  const aux = <usize>param(pb, P_AUX);
  let first = true;
  if (param(pb, P_PHASE) == 4) return 0;
  if (param(pb, P_PHASE) == 0) {
    quantizeRows(pb);
    setParam(pb, P_PHASE, 1);
  }
  if (param(pb, P_PHASE) == 1) {
    const m = param(pb, P_M);
    const c = <usize>param(pb, P_SCRATCH);
    const n0 = param(pb, P_N0);
    const n1 = param(pb, P_N1);
    const rb = param(pb, P_RB) > 0 ? param(pb, P_RB) : m;
    let r = param(pb, P_R0);
    for (let t = n0; t < n1; t += TN) {
      const te = min(t + TN, n1);
      for (; r < m; r += rb) {
        if (!first && checkpoint(pb)) {
          setParam(pb, P_N0, t);
          setParam(pb, P_R0, r);
          return 1;
        }
        first = false;
        const re = min(r + rb, m);
        tileI8(aux, t, te, c + <usize>r * (<usize>TN << 2), r, re);
        selectI8(pb, aux, t, te, c, act, r, re);
      }
      r = 0;
    }
    if (param(pb, P_CAP) > 0) sortRows(pb);
    setParam(pb, P_N0, n1);
    setParam(pb, P_R0, 0);
    setParam(pb, P_PHASE, 2);
    // A lone part waits for no other selection: on to the cut at once.
    if (load<i32>(aux + (I8_PARTS << 2)) > 1) return 0;
  }
  if (param(pb, P_PHASE) == 2) {
    cutAndPair(pb, aux);
    setParam(pb, P_PHASE, 3);
  }
  if (rescorePairs(pb, aux, act, first) != 0) return 1;
  setParam(pb, P_PHASE, 4);
  return 0;
}

/**
 * OP_I8_FINISH: phases 2 and 3 of every part's block, then the merge, on one worker (a small
 * block's whole second round, run as the first round's follow-up).
 */
export function finishJob(pb: usize): i32 {
  const blocks = <usize>param(pb, FN_BLOCKS);
  for (let t = 0; t < param(pb, FN_PARTS); t++) {
    const part = <usize>load<i32>(blocks + (<usize>t << 2));
    if (encodeI8(part, param(part, P_ACT)) != 0) return 1;
  }
  return mergeJob(<usize>param(pb, FN_MERGE));
}
