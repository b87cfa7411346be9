// The training objective's sparse products: the decoder product of the selected codes with the
// residual it leaves (OP_TRAIN_DECODE, per row), and the backward pass restricted to the active
// latents (OP_TRAIN_BACKWARD, per latent, so no two workers write the same gradient row).

import { checkpoint, param, setParam } from "./params";
import {
  TBW_CPTR,
  TBW_EROW,
  TBW_EVAL,
  TBW_G,
  TBW_GB,
  TBW_GE,
  TBW_GW,
  TBW_L0,
  TBW_L1,
  TBW_LD,
  TBW_ROWS,
  TBW_S,
  TBW_W,
  TDE_AO,
  TDE_BIAS,
  TDE_CNT,
  TDE_IDX,
  TDE_LD,
  TDE_OUT,
  TDE_R0,
  TDE_R1,
  TDE_SQ,
  TDE_STRIDE,
  TDE_VAL,
  TDE_W,
  TDE_Y,
  TDE_YS,
} from "./train_params";

// Rows (decode) or latents (backward) between checkpoints.
const ROWS_PER_CHECK: i32 = 16;

@inline function paramF32(pb: usize, i: i32): f32 {
  return load<f32>(pb + (<usize>i << 2));
}

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// OP_TRAIN_DECODE; stopped at a checkpoint, R0 is left at the next row.
export function trainDecode(pb: usize): i32 {
  const out = <usize>param(pb, TDE_OUT);
  const n = param(pb, TDE_LD);
  const ld = <usize>n << 2;
  const w = <usize>param(pb, TDE_W);
  const idx = <usize>param(pb, TDE_IDX);
  const val = <usize>param(pb, TDE_VAL);
  const cnt = <usize>param(pb, TDE_CNT);
  const stride = <usize>param(pb, TDE_STRIDE) << 2;
  const bias = <usize>param(pb, TDE_BIAS);
  const y = <usize>param(pb, TDE_Y);
  const ys = f32x4.splat(paramF32(pb, TDE_YS));
  const ao = f32x4.splat(paramF32(pb, TDE_AO));
  const sq = <usize>param(pb, TDE_SQ);
  const r1 = param(pb, TDE_R1);
  const first = param(pb, TDE_R0);
  for (let r = first; r < r1; r++) {
    if (r > first && (r - first) % ROWS_PER_CHECK == 0 && checkpoint(pb)) {
      setParam(pb, TDE_R0, r);
      return 1;
    }
    const o = out + <usize>r * ld;
    if (bias != 0) memory.copy(o, bias, ld);
    else memory.fill(o, 0, ld);
    const count = load<i32>(cnt + (<usize>r << 2));
    const vr = val + <usize>r * stride;
    const ir = idx + <usize>r * stride;
    for (let j = 0; j < count; j++) {
      const v = f32x4.splat(load<f32>(vr + (<usize>j << 2)));
      const row = w + <usize>load<i32>(ir + (<usize>j << 2)) * ld;
      for (let c: usize = 0; c < ld; c += 16) {
        v128.store(o + c, f32x4.relaxed_madd(v, v128.load(row + c), v128.load(o + c)));
      }
    }
    const yr = y + <usize>r * ld;
    let acc = f32x4.splat(0);
    for (let c: usize = 0; c < ld; c += 16) {
      const e = f32x4.relaxed_madd(ys, v128.load(yr + c), v128.load(o + c));
      acc = f32x4.relaxed_madd(e, e, acc);
      v128.store(o + c, f32x4.mul(ao, e));
    }
    store<f32>(sq + (<usize>r << 2), hsum(acc));
  }
  setParam(pb, TDE_R0, r1);
  return 0;
}

// OP_TRAIN_BACKWARD; stopped at a checkpoint, L0 is left at the next latent.
export function trainBackward(pb: usize): i32 {
  const w = <usize>param(pb, TBW_W);
  const ld = <usize>param(pb, TBW_LD) << 2;
  const g = <usize>param(pb, TBW_G);
  const s = <usize>param(pb, TBW_S);
  const rows = param(pb, TBW_ROWS);
  const cptr = <usize>param(pb, TBW_CPTR);
  const erow = <usize>param(pb, TBW_EROW);
  const eval = <usize>param(pb, TBW_EVAL);
  const gw = <usize>param(pb, TBW_GW);
  const ge = <usize>param(pb, TBW_GE);
  const gb = <usize>param(pb, TBW_GB);
  const l1 = param(pb, TBW_L1);
  const first = param(pb, TBW_L0);
  for (let i = first; i < l1; i++) {
    if (i > first && (i - first) % ROWS_PER_CHECK == 0 && checkpoint(pb)) {
      setParam(pb, TBW_L0, i);
      return 1;
    }
    const wi = w + <usize>i * ld;
    const gwi = gw + <usize>i * ld;
    const gei = ge + <usize>i * ld;
    memory.fill(gwi, 0, ld);
    memory.fill(gei, 0, ld);
    let bsum: f32 = 0;
    const e1 = load<i32>(cptr + (<usize>(i + 1) << 2));
    for (let e = load<i32>(cptr + (<usize>i << 2)); e < e1; e++) {
      const at = load<i32>(erow + (<usize>e << 2));
      const gr = g + <usize>at * ld;
      const sr = s + <usize>(at >= rows ? at - rows : at) * ld;
      const v = f32x4.splat(load<f32>(eval + (<usize>e << 2)));
      let acc0 = f32x4.splat(0);
      let acc1 = f32x4.splat(0);
      for (let c: usize = 0; c < ld; c += 32) {
        const g0 = v128.load(gr + c);
        const g1 = v128.load(gr + c, 16);
        acc0 = f32x4.relaxed_madd(g0, v128.load(wi + c), acc0);
        acc1 = f32x4.relaxed_madd(g1, v128.load(wi + c, 16), acc1);
        v128.store(gwi + c, f32x4.relaxed_madd(v, g0, v128.load(gwi + c)));
        v128.store(gwi + c, f32x4.relaxed_madd(v, g1, v128.load(gwi + c, 16)), 16);
      }
      const dh = hsum(f32x4.add(acc0, acc1));
      const d = f32x4.splat(dh);
      for (let c: usize = 0; c < ld; c += 16) {
        v128.store(gei + c, f32x4.relaxed_madd(d, v128.load(sr + c), v128.load(gei + c)));
      }
      bsum += dh;
    }
    store<f32>(gb + (<usize>i << 2), bsum);
  }
  setParam(pb, TBW_L0, l1);
  return 0;
}
