/**
 * The kernels' parameter block and constants, mirrored from wasm/assembly/kernels.ts (keep
 * the two in step).
 * @module
 */

/** Weight precisions the kernels stream. */
export const PREC = { f32: 0, bf16: 1, f16: 2 } as const;

/** Activation codes of the fused encode. */
export const ACT = { dense: 0, relu: 1, jumprelu: 2, gated: 3 } as const;

/** Columns per fused tile (scratch is rows x TN floats). */
export const TN = 128;

/** Word offsets in a parameter block. */
export const P = {
  A: 0,
  LDA: 1,
  M: 2,
  B: 3,
  K: 4,
  N0: 5,
  N1: 6,
  LDB: 7,
  PSTRIDE: 8,
  PREC: 9,
  ACT: 10,
  BIAS: 11,
  THR: 12,
  BMAG: 13,
  CAP: 14,
  OVAL: 15,
  OIDX: 16,
  OCNT: 17,
  SCRATCH: 18,
  C: 19,
  LDC: 20,
  OSTRIDE: 21,
  NREAL: 22,
} as const;

/** Words in a parameter block. */
export const PARAM_WORDS = 24;
