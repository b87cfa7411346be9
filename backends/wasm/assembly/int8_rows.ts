// Phase 0 of the int8 encode: the block's f32 activation rows quantized for the relaxed dot,
// by each part into its own buffers (a row costs little next to its share of the GEMM, and no
// part waits for another).

import {
  I8_A,
  I8_KP,
  I8_LDA,
  I8_ROW,
  P_A,
  P_AUX,
  P_K,
  P_LDA,
  P_M,
  P_OCNT,
  param,
} from "./params";

// Below this scale a row counts as zero: q = 0 and its error is the row itself (still a bound).
const MIN_SCALE: f32 = 1e-30;

// The row's largest magnitude.
@inline function absMax(a: usize, K: i32): f32 {
  let mx = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= K; k += 4) mx = f32x4.max(mx, f32x4.abs(v128.load(a + (<usize>k << 2))));
  let amax = max(
    max(f32x4.extract_lane(mx, 0), f32x4.extract_lane(mx, 1)),
    max(f32x4.extract_lane(mx, 2), f32x4.extract_lane(mx, 3)),
  );
  for (; k < K; k++) amax = max(amax, abs(load<f32>(a + (<usize>k << 2))));
  return amax;
}

// q = nearest(x * inv) clamped to [-63, 63], as i32 lanes (never trapping).
@inline function quant4(x: v128, inv: v128): v128 {
  const q = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(x, inv)));
  return i32x4.max_s(i32x4.min_s(q, i32x4.splat(63)), i32x4.splat(-63));
}

// Row at a (K f32) as kp bytes q + 64 at dst (padding: q = 0), and 4 f32 at data: scale =
// max|x| / 63, ||x|| and ||x - scale q|| rounded up (exact products, sums in f64).
function quantizeRow(a: usize, K: i32, dst: usize, kp: i32, data: usize): void {
  let scale: f32 = absMax(a, K) / 63;
  const inv: f32 = scale >= MIN_SCALE ? 1 / scale : 0;
  if (inv == 0) scale = 0;
  const vinv = f32x4.splat(inv);
  const off = i32x4.splat(64);
  let k = 0;
  for (; k + 16 <= K; k += 16) {
    const p = a + (<usize>k << 2);
    const lo = i16x8.narrow_i32x4_s(
      i32x4.add(quant4(v128.load(p), vinv), off),
      i32x4.add(quant4(v128.load(p, 16), vinv), off),
    );
    const hi = i16x8.narrow_i32x4_s(
      i32x4.add(quant4(v128.load(p, 32), vinv), off),
      i32x4.add(quant4(v128.load(p, 48), vinv), off),
    );
    v128.store(dst + <usize>k, i8x16.narrow_i16x8_u(lo, hi));
  }
  for (; k < K; k++) {
    const q = quant4(f32x4.splat(load<f32>(a + (<usize>k << 2))), vinv);
    store<u8>(dst + <usize>k, <u8>(i32x4.extract_lane(q, 0) + 64));
  }
  memory.fill(dst + <usize>K, 64, <usize>(kp - K));
  // Norms from the stored q: e = x - scale q is exact in f64 (a 24-bit scale times a 7-bit q).
  const s = <f64>scale;
  const vs = f64x2.splat(s);
  let xx = f64x2.splat(0);
  let ee = f64x2.splat(0);
  k = 0;
  for (; k + 4 <= K; k += 4) {
    const x = v128.load(a + (<usize>k << 2));
    const b = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(dst + <usize>k)));
    const q = f32x4.convert_i32x4_s(i32x4.sub(b, off));
    const xl = f64x2.promote_low_f32x4(x);
    const xh = f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 0, 1));
    const el = f64x2.sub(xl, f64x2.mul(vs, f64x2.promote_low_f32x4(q)));
    const eh = f64x2.sub(xh, f64x2.mul(vs, f64x2.promote_low_f32x4(v128.shuffle<f32>(q, q, 2, 3, 0, 1))));
    xx = f64x2.add(xx, f64x2.add(f64x2.mul(xl, xl), f64x2.mul(xh, xh)));
    ee = f64x2.add(ee, f64x2.add(f64x2.mul(el, el), f64x2.mul(eh, eh)));
  }
  let xs = f64x2.extract_lane(xx, 0) + f64x2.extract_lane(xx, 1);
  let es = f64x2.extract_lane(ee, 0) + f64x2.extract_lane(ee, 1);
  for (; k < K; k++) {
    const x = <f64>load<f32>(a + (<usize>k << 2));
    const e = x - s * <f64>(<i32>load<u8>(dst + <usize>k) - 64);
    xs += x * x;
    es += e * e;
  }
  store<f32>(data, scale);
  store<f32>(data, <f32>(sqrt(xs) * (1 + 1e-6)), 4);
  store<f32>(data, <f32>(sqrt(es) * (1 + 1e-6)), 8);
  store<f32>(data, 0, 12);
}

/** Phase 0: quantize rows [0, M) of A into this part's buffers and zero its selections. */
export function quantizeRows(pb: usize): void {
  const aux = <usize>param(pb, P_AUX);
  const m = param(pb, P_M);
  const K = param(pb, P_K);
  const a = <usize>param(pb, P_A);
  const lda = <usize>param(pb, P_LDA) << 2;
  const a8 = <usize>load<i32>(aux + (I8_A << 2));
  const lda8 = <usize>load<i32>(aux + (I8_LDA << 2));
  const kp = load<i32>(aux + (I8_KP << 2));
  const rows = <usize>load<i32>(aux + (I8_ROW << 2));
  for (let r = 0; r < m; r++) {
    quantizeRow(a + <usize>r * lda, K, a8 + <usize>r * lda8, kp, rows + (<usize>r << 4));
  }
  memory.fill(<usize>param(pb, P_OCNT), 0, <usize>m << 2);
}
