/**
 * Parameter-block words of the training kernels (operation codes `OP.train*`), mirrored from
 * wasm/assembly/train_params.ts (keep the two in step; train_params_test.ts compares them).
 * @module
 */

/**
 * Re-packing into encoder panels: the row-major [K, LDS floats] f32 matrix at SRC into panels
 * of 8 columns at DST, panels [P0, P1).
 */
export const TRAIN_PANELS = { SRC: 0, LDS: 1, K: 2, DST: 3, P0: 4, P1: 5 } as const;

/**
 * The fused training encode: h = A @ B + BIAS for rows [RSTART, REND), each h offered to its
 * row's main selection (the CAP largest h > 0) and, where DEAD[j] is -1, its aux selection
 * (the ACAP largest h > 0 among those columns). Counts must be zeroed; T and R resume a stopped
 * job (post anew with T = 0, R = RSTART). Words A, LDA, B, K, LDB and PSTRIDE are the GEMM's.
 */
export const TRAIN_ENCODE = {
  A: 0,
  LDA: 1,
  RSTART: 2,
  B: 3,
  K: 4,
  N: 5,
  NPAD: 6,
  LDB: 7,
  PSTRIDE: 8,
  BIAS: 9,
  DEAD: 10,
  CAP: 11,
  ACAP: 12,
  MVAL: 13,
  MIDX: 14,
  MCNT: 15,
  AVAL: 16,
  AIDX: 17,
  ACNT: 18,
  SCRATCH: 19,
  RB: 20,
  REND: 21,
  T: 22,
  R: 23,
} as const;

/**
 * Sparse decode with residual, rows [R0, R1): v = BIAS (0: none) + sum of VAL * W[IDX] over the
 * row's CNT[r] entries (STRIDE apart per row) + YS * Y[r]; SQ[r] = sum v^2; OUT[r] = AO * v.
 * YS and AO are f32 words; rows are LD floats.
 */
export const TRAIN_DECODE = {
  OUT: 0,
  LD: 1,
  W: 2,
  IDX: 3,
  VAL: 4,
  CNT: 5,
  STRIDE: 6,
  BIAS: 7,
  Y: 8,
  YS: 9,
  AO: 10,
  SQ: 11,
  R0: 12,
  R1: 13,
} as const;

/**
 * Backward over latents [L0, L1) from their entries (CPTR: CSC offsets; EROW: gradient rows of
 * G; EVAL: activations): GW[i] = sum EVAL * G[g], GE[i] = sum (G[g] . W[i]) * S[g mod ROWS],
 * GB[i] = sum G[g] . W[i]. Rows are LD floats (a multiple of 8).
 */
export const TRAIN_BACKWARD = {
  W: 0,
  LD: 1,
  G: 2,
  S: 3,
  ROWS: 4,
  CPTR: 5,
  EROW: 6,
  EVAL: 7,
  GW: 8,
  GE: 9,
  GB: 10,
  L0: 11,
  L1: 12,
} as const;

/** The i32 word holding the bits of f32 `value` (for the kernels' f32 parameters). */
export function f32Word(value: number): number {
  const words = new Int32Array(1);
  new Float32Array(words.buffer)[0] = value;
  return words[0];
}
