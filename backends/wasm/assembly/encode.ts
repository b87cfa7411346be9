// The GEMM / fused encode job (OP_GEMM): tiles of TN columns, checkpoints between row groups.

import { gemmTile } from "./gemm";
import { encodeI8 } from "./int8";
import {
  ACT_DENSE,
  checkpoint,
  P_ACT,
  P_C,
  P_LDC,
  P_M,
  P_N0,
  P_N1,
  P_PREC,
  P_R0,
  P_RB,
  P_SCRATCH,
  PREC_BF16,
  PREC_F16,
  PREC_F32,
  PREC_INT8,
  param,
  setParam,
  TN,
} from "./params";
import { selectTile } from "./select";

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
export function encode(pb: usize): i32 {
  const prec = param(pb, P_PREC);
  if (prec == PREC_F32) return run(pb, PREC_F32);
  if (prec == PREC_BF16) return run(pb, PREC_BF16);
  if (prec == PREC_INT8) return encodeI8(pb, param(pb, P_ACT));
  return run(pb, PREC_F16);
}
