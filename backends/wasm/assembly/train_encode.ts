// The training encode: the encoder re-packed into panels (OP_TRAIN_PANELS), and the encoder GEMM
// fused with bias and the TopK / BatchTopK (and AuxK) selections (OP_TRAIN_ENCODE), a tile of
// columns at a time, so the dense [rows, d_sae] pre-activation is never held whole.

import { gemmTile } from "./gemm";
import { checkpoint, param, PREC_F32, setParam } from "./params";
import {
  TEN_ACAP,
  TEN_ACNT,
  TEN_AIDX,
  TEN_AVAL,
  TEN_BIAS,
  TEN_CAP,
  TEN_DEAD,
  TEN_MCNT,
  TEN_MIDX,
  TEN_MVAL,
  TEN_N,
  TEN_NPAD,
  TEN_R,
  TEN_RB,
  TEN_REND,
  TEN_RSTART,
  TEN_SCRATCH,
  TEN_T,
  TPN_DST,
  TPN_K,
  TPN_LDS,
  TPN_P0,
  TPN_P1,
  TPN_SRC,
} from "./train_params";
import { floorOf, heapPush, sortBestFirst, sortByIndex } from "./train_select";

// Columns per tile of the fused encode (the scratch is RB x TW floats).
const TW: i32 = 128;
// Panels per checkpoint of the re-packing.
const PANELS_PER_CHECK: i32 = 64;

// OP_TRAIN_PANELS; stopped at a checkpoint, P0 is left at the next panel.
export function trainPanels(pb: usize): i32 {
  const src = <usize>param(pb, TPN_SRC);
  const lds = <usize>param(pb, TPN_LDS) << 2;
  const K = param(pb, TPN_K);
  const dst = <usize>param(pb, TPN_DST);
  const p1 = param(pb, TPN_P1);
  const first = param(pb, TPN_P0);
  const pstride = <usize>K << 5;
  for (let p = first; p < p1; p++) {
    if (p > first && (p - first) % PANELS_PER_CHECK == 0 && checkpoint(pb)) {
      setParam(pb, TPN_P0, p);
      return 1;
    }
    const s = src + (<usize>p << 5);
    const d = dst + <usize>p * pstride;
    for (let k = 0; k < K; k++) {
      const from = s + <usize>k * lds;
      const to = d + (<usize>k << 5);
      v128.store(to, v128.load(from));
      v128.store(to, v128.load(from, 16), 16);
    }
  }
  setParam(pb, TPN_P0, p1);
  return 0;
}

// Offer lane values of h (columns j..j+3) that passed the vector test to the selections.
@inline function offer(
  h: f32, j: i32, main: bool, aux: bool,
  mv: usize, mi: usize, mc: usize, cap: i32,
  av: usize, ai: usize, ac: usize, acap: i32,
): void {
  if (main) heapPush(mv, mi, mc, cap, h, j);
  if (aux) heapPush(av, ai, ac, acap, h, j);
}

// Push the tile's columns [t, end) of rows [r0, r1) (the scratch holds row r0 first) into the
// rows' selections.
@inline function selectRows(pb: usize, t: i32, end: i32, c: usize, r0: i32, r1: i32): void {
  const bias = <usize>param(pb, TEN_BIAS);
  const dead = <usize>param(pb, TEN_DEAD);
  const cap = param(pb, TEN_CAP);
  const acap = dead != 0 ? param(pb, TEN_ACAP) : 0;
  const mval = <usize>param(pb, TEN_MVAL);
  const midx = <usize>param(pb, TEN_MIDX);
  const mcnt = <usize>param(pb, TEN_MCNT);
  const aval = <usize>param(pb, TEN_AVAL);
  const aidx = <usize>param(pb, TEN_AIDX);
  const acnt = <usize>param(pb, TEN_ACNT);
  for (let r = r0; r < r1; r++) {
    const row = c + (<usize>((r - r0) * TW) << 2);
    const mv = mval + ((<usize>r * <usize>cap) << 2);
    const mi = midx + ((<usize>r * <usize>cap) << 2);
    const mc = mcnt + (<usize>r << 2);
    const av = aval + ((<usize>r * <usize>acap) << 2);
    const ai = aidx + ((<usize>r * <usize>acap) << 2);
    const ac = acnt + (<usize>r << 2);
    let floorM = f32x4.splat(floorOf(mv, mc, cap));
    let floorA = f32x4.splat(floorOf(av, ac, acap));
    let j = t;
    for (; j + 4 <= end; j += 4) {
      const jb = <usize>j << 2;
      const h = f32x4.add(v128.load(row + (<usize>(j - t) << 2)), v128.load(bias + jb));
      const okM = cap > 0 ? f32x4.gt(h, floorM) : i32x4.splat(0);
      const okA = acap > 0 ? v128.and(f32x4.gt(h, floorA), v128.load(dead + jb)) : i32x4.splat(0);
      if (!v128.any_true(v128.or(okM, okA))) continue;
      offer(f32x4.extract_lane(h, 0), j, i32x4.extract_lane(okM, 0) != 0, i32x4.extract_lane(okA, 0) != 0, mv, mi, mc, cap, av, ai, ac, acap);
      offer(f32x4.extract_lane(h, 1), j + 1, i32x4.extract_lane(okM, 1) != 0, i32x4.extract_lane(okA, 1) != 0, mv, mi, mc, cap, av, ai, ac, acap);
      offer(f32x4.extract_lane(h, 2), j + 2, i32x4.extract_lane(okM, 2) != 0, i32x4.extract_lane(okA, 2) != 0, mv, mi, mc, cap, av, ai, ac, acap);
      offer(f32x4.extract_lane(h, 3), j + 3, i32x4.extract_lane(okM, 3) != 0, i32x4.extract_lane(okA, 3) != 0, mv, mi, mc, cap, av, ai, ac, acap);
      floorM = f32x4.splat(floorOf(mv, mc, cap));
      floorA = f32x4.splat(floorOf(av, ac, acap));
    }
    for (; j < end; j++) {
      const h = load<f32>(row + (<usize>(j - t) << 2)) + load<f32>(bias + (<usize>j << 2));
      const main = cap > 0 && h > floorOf(mv, mc, cap);
      const aux = acap > 0 && load<i32>(dead + (<usize>j << 2)) != 0 && h > floorOf(av, ac, acap);
      offer(h, j, main, aux, mv, mi, mc, cap, av, ai, ac, acap);
    }
  }
}

// Sort the finished selections of rows [r0, r1).
function finishRows(pb: usize, r0: i32, r1: i32): void {
  const cap = param(pb, TEN_CAP);
  const acap = param(pb, TEN_DEAD) != 0 ? param(pb, TEN_ACAP) : 0;
  for (let r = r0; r < r1; r++) {
    const m = (<usize>r * <usize>cap) << 2;
    sortByIndex(<usize>param(pb, TEN_MVAL) + m, <usize>param(pb, TEN_MIDX) + m, load<i32>(<usize>param(pb, TEN_MCNT) + (<usize>r << 2)));
    if (acap > 0) {
      const a = (<usize>r * <usize>acap) << 2;
      sortBestFirst(<usize>param(pb, TEN_AVAL) + a, <usize>param(pb, TEN_AIDX) + a, load<i32>(<usize>param(pb, TEN_ACNT) + (<usize>r << 2)));
    }
  }
}

// OP_TRAIN_ENCODE: tiles of TW columns, each over the job's rows in groups of RB with a
// checkpoint between groups; stopped, T and R are left at the next group.
export function trainEncode(pb: usize): i32 {
  const rStart = param(pb, TEN_RSTART);
  const rEnd = param(pb, TEN_REND);
  const n = param(pb, TEN_N);
  const npad = param(pb, TEN_NPAD);
  const rb = param(pb, TEN_RB) > 0 ? param(pb, TEN_RB) : rEnd - rStart;
  const scratch = <usize>param(pb, TEN_SCRATCH);
  let r = param(pb, TEN_R);
  let first = true;
  for (let t = param(pb, TEN_T); t < npad; t += TW) {
    const te = min(t + TW, npad);
    for (; r < rEnd; r += rb) {
      if (!first && checkpoint(pb)) {
        setParam(pb, TEN_T, t);
        setParam(pb, TEN_R, r);
        return 1;
      }
      first = false;
      const re = min(r + rb, rEnd);
      gemmTile(pb, t, te, scratch, <usize>TW << 2, PREC_F32, r, re);
      selectRows(pb, t, min(te, n), scratch, r, re);
    }
    r = rStart;
  }
  finishRows(pb, rStart, rEnd);
  setParam(pb, TEN_T, npad);
  setParam(pb, TEN_R, rStart);
  return 0;
}
