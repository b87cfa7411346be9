// The int8 encode's selection (phase 1): each tile holds estimates p~ of the pre-activations
// (the int8 dot, scaled). A latent is admitted only when its proven upper bound U = p~ + slack
// (slack: the quantization error of both operands and the f32 dot's rounding, from I8_COL and
// I8_ROW) passes the activation, so every latent the f32 encode keeps is admitted. Capped
// selections keep the best CAP by the estimate of the activated value (the estimate ranks far
// better than U, whose slack varies from column to column); uncapped ones keep every admitted
// latent. Either way the exact values come later (int8_rescore.ts).

import {
  ACT_GATED,
  ACT_JUMPRELU,
  I8_COL,
  I8_NPAD,
  I8_ROW,
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
  TN,
} from "./params";
import { push } from "./select";

// Which of 4 latents at column j pass the activation with upper bounds u of their
// pre-activations (f32 addition and multiplication by a scale >= 0 are monotonic, so a latent
// rejected at u is rejected at its exact value too).
@inline function admitted(u: v128, jb: usize, act: i32, bias: usize, thr: usize, bmag: usize): v128 {
  const zero = f32x4.splat(0);
  const h = f32x4.add(u, v128.load(bias + jb));
  let ok = f32x4.gt(h, zero);
  if (act == ACT_GATED) {
    const mag = f32x4.add(f32x4.mul(u, v128.load(thr + jb)), v128.load(bmag + jb));
    ok = v128.and(ok, f32x4.gt(mag, zero));
  } else if (act == ACT_JUMPRELU) {
    ok = v128.and(ok, f32x4.gt(h, v128.load(thr + jb)));
  }
  return ok;
}

// Upper bounds of 4 pre-activations at column j from their estimates p.
@inline function upper(p: v128, jb: usize, cols: usize, npad: usize, x: v128, e: v128): v128 {
  const slack = f32x4.add(
    f32x4.add(
      f32x4.mul(v128.load(cols + (npad << 3) + jb), x),
      f32x4.mul(v128.load(cols + npad * 12 + jb), e),
    ),
    f32x4.mul(f32x4.abs(p), f32x4.splat(1e-6)),
  );
  return f32x4.add(p, slack);
}

// The estimate of the activated value that ranks a latent.
@inline function ranked(p: v128, jb: usize, act: i32, bias: usize, thr: usize, bmag: usize): v128 {
  if (act == ACT_GATED) return f32x4.add(f32x4.mul(p, v128.load(thr + jb)), v128.load(bmag + jb));
  return f32x4.add(p, v128.load(bias + jb));
}

// Push the lanes of ok (values v, columns j..j+3) into a row's selection.
@inline function pushLanes(vals: usize, idx: usize, cnt: usize, cap: i32, ok: v128, v: v128, j: i32): void {
  if (i32x4.extract_lane(ok, 0)) push(vals, idx, cnt, cap, f32x4.extract_lane(v, 0), j);
  if (i32x4.extract_lane(ok, 1)) push(vals, idx, cnt, cap, f32x4.extract_lane(v, 1), j + 1);
  if (i32x4.extract_lane(ok, 2)) push(vals, idx, cnt, cap, f32x4.extract_lane(v, 2), j + 2);
  if (i32x4.extract_lane(ok, 3)) push(vals, idx, cnt, cap, f32x4.extract_lane(v, 3), j + 3);
}

/**
 * Select from the tile of estimates at c (rows [r0, r1), columns [n0t, n1t), TN floats a
 * row) into the rows' selections. Columns come 4 at a time: the tile is a multiple of 8 wide
 * and columns past NREAL (padding) are masked off.
 */
export function selectI8(pb: usize, aux: usize, n0t: i32, n1t: i32, c: usize, act: i32, r0: i32, r1: i32): void {
  const nReal = param(pb, P_NREAL);
  const bias = <usize>param(pb, P_BIAS);
  const thr = <usize>param(pb, P_THR);
  const bmag = <usize>param(pb, P_BMAG);
  const cap = param(pb, P_CAP);
  const stride = <usize>param(pb, P_OSTRIDE) << 2;
  const ovals = <usize>param(pb, P_OVAL);
  const oidx = <usize>param(pb, P_OIDX);
  const ocnt = <usize>param(pb, P_OCNT);
  const cols = <usize>load<i32>(aux + (I8_COL << 2));
  const npad = <usize>load<i32>(aux + (I8_NPAD << 2));
  const rows = <usize>load<i32>(aux + (I8_ROW << 2));
  const end = min(n1t, nReal);
  const lanes = i32x4(0, 1, 2, 3);
  for (let r = r0; r < r1; r++) {
    const row = c + <usize>(r * TN) * 4;
    const vals = ovals + <usize>r * stride;
    const idx = oidx + <usize>r * stride;
    const cnt = ocnt + (<usize>r << 2);
    const x = f32x4.splat(load<f32>(rows + (<usize>r << 4), 4));
    const e = f32x4.splat(load<f32>(rows + (<usize>r << 4), 8));
    // Below the worst kept estimate once the heap is full, nothing can enter.
    let floor = f32x4.splat(-Infinity);
    if (cap > 0 && load<i32>(cnt) == cap) floor = f32x4.splat(load<f32>(vals));
    for (let j = n0t; j < end; j += 4) {
      const jb = <usize>j << 2;
      const p = v128.load(row + (<usize>(j - n0t) << 2));
      const v = ranked(p, jb, act, bias, thr, bmag);
      let ok = i32x4.lt_s(i32x4.add(i32x4.splat(j), lanes), i32x4.splat(end));
      if (cap > 0) {
        ok = v128.and(ok, f32x4.gt(v, floor));
        if (!v128.any_true(ok)) continue;
      }
      ok = v128.and(ok, admitted(upper(p, jb, cols, npad, x, e), jb, act, bias, thr, bmag));
      if (!v128.any_true(ok)) continue;
      pushLanes(vals, idx, cnt, cap, ok, v, j);
      if (cap > 0 && load<i32>(cnt) == cap) floor = f32x4.splat(load<f32>(vals));
    }
  }
}
