// Layout changes done at load: the in-place block transpose (OP_TRANSPOSE_BLOCKS), the f32
// transpose (OP_TRANSPOSE_F32), the in-place compaction to bf16 / f16 (OP_COMPACT_*) and the
// relayout of f32 panels into columns (OP_COLUMN_MAJOR).

import {
  checkpoint,
  CP_I0,
  CP_I1,
  CP_OVERFLOW,
  CP_PTR,
  param,
  setParam,
  CM_K,
  CM_P0,
  CM_P1,
  CM_PTR,
  CM_SCRATCH,
  TB_BUDGET,
  TB_COLS,
  TB_PTR,
  TB_ROWS,
  TB_STATE,
  TB_VISITED,
  TF_C0,
  TF_C1,
  TF_COLS,
  TF_DST,
  TF_LDD,
  TF_ROWS,
  TF_SRC,
} from "./params";

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
export function transposeStep(pb: usize): i32 {
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

// OP_COLUMN_MAJOR: each panel [K][8] f32 becomes [8][K] in place: a column is then K contiguous
// floats, and the int8 encode's exact rescoring of a candidate reads its own 4 K bytes instead of
// its quad's or panel's 16 or 32 per k. A checkpoint between panels.
export function columnMajor(pb: usize): i32 {
  const ptr = <usize>param(pb, CM_PTR);
  const K = <usize>param(pb, CM_K);
  const p1 = param(pb, CM_P1);
  const scratch = <usize>param(pb, CM_SCRATCH);
  const first = param(pb, CM_P0);
  for (let p = first; p < p1; p++) {
    if (p > first && checkpoint(pb)) {
      setParam(pb, CM_P0, p);
      return 1;
    }
    const base = ptr + <usize>p * K * 32;
    memory.copy(scratch, base, K * 32);
    const K4 = K << 2;
    for (let k: usize = 0; k < K; k++) {
      const s = scratch + (k << 5);
      const d = base + (k << 2);
      store<f32>(d, load<f32>(s));
      store<f32>(d + K4, load<f32>(s, 4));
      store<f32>(d + 2 * K4, load<f32>(s, 8));
      store<f32>(d + 3 * K4, load<f32>(s, 12));
      store<f32>(d + 4 * K4, load<f32>(s, 16));
      store<f32>(d + 5 * K4, load<f32>(s, 20));
      store<f32>(d + 6 * K4, load<f32>(s, 24));
      store<f32>(d + 7 * K4, load<f32>(s, 28));
    }
  }
  setParam(pb, CM_P0, p1);
  return 0;
}

// OP_TRANSPOSE_F32 in 32 x 32 tiles; stopped at a checkpoint, C0 is left at the next tile.
export function transposeF32(pb: usize): i32 {
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

// Elements per compaction checkpoint.
const COMPACT_STEP = 1 << 16;

// OP_COMPACT_*: [I0, I1) in steps; stopped at a checkpoint, I0 is left at the next step.
export function compactJob(pb: usize, f16: bool): i32 {
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
