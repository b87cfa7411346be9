// Sparse rows times a row-major matrix (OP_AXPY): the decoder sums of decode and steer.

import { bHi, bLo } from "./gemm";
import {
  AX_IDX,
  AX_LDO,
  AX_LDW,
  AX_N,
  AX_OUT,
  AX_PREC,
  AX_R0,
  AX_R1,
  AX_ROWPTR,
  AX_SCALE,
  AX_VAL,
  AX_W,
  checkpoint,
  PREC_BF16,
  PREC_F16,
  PREC_F32,
  param,
  setParam,
} from "./params";

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
export function axpyJob(pb: usize): i32 {
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
