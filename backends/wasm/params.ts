/**
 * The kernels' parameter blocks and constants, mirrored from wasm/assembly/params.ts (keep
 * the two in step; params_test.ts compares them). Every block has PARAM_WORDS i32 words;
 * words PROGRESS, OP and STOP are common, the others depend on the operation. Every operation is resumable: `run_job` returns
 * 1 when it stopped at a checkpoint (the block records where), 0 when finished.
 * @module
 */

import type { Precision } from "../../domain/precision.ts";

/** Weight precisions the kernels stream, by their codes. */
export const PREC = { f32: 0, bf16: 1, f16: 2, int8: 3 } as const satisfies Record<
  Precision,
  number
>;

/** Activation codes of the fused encode. */
export const ACT = { dense: 0, relu: 1, jumprelu: 2, gated: 3 } as const;

/** Operations of `run_job` (word OP of a parameter block). */
export const OP = {
  /** GEMM or fused encode over columns [N0, N1) ({@link P} words). */
  gemm: 0,
  /** Sparse rows times the decoder, per output row ({@link AXPY} words). */
  axpy: 1,
  /** A bounded step of the in-place 32-byte-block transpose ({@link TRANSPOSE_BLOCKS} words). */
  transposeBlocks: 2,
  /** f32 to bf16 in place over a range ({@link COMPACT} words). */
  compactBf16: 3,
  /** f32 to f16 in place over a range ({@link COMPACT} words); returns the overflow count. */
  compactF16: 4,
  /** Out-of-place f32 transpose of a column range ({@link TRANSPOSE_F32} words). */
  transposeF32: 5,
  /** Per-part selections merged into sorted rows ({@link MERGE} words). */
  merge: 6,
  /** f32 encoder panels quantized to int8 panels and per-column data ({@link QUANT_I8} words). */
  quantI8: 7,
  /** f32 encoder panels made column-major in place ({@link COLUMN_MAJOR} words). */
  columnMajor: 8,
  /** Training: an f32 matrix re-packed into encoder panels (train_params.ts TRAIN_PANELS). */
  trainPanels: 40,
  /** Training: the encoder GEMM fused with the TopK / AuxK selections (TRAIN_ENCODE). */
  trainEncode: 41,
  /** Training: the sparse decoder product and the residual (TRAIN_DECODE). */
  trainDecode: 42,
  /** Training: the backward pass over the active latents (TRAIN_BACKWARD). */
  trainBackward: 43,
  /** The int8 encode's cut, rescoring and merge of a small block on one worker ({@link I8_FINISH}). */
  i8Finish: 60,
} as const;

/** Columns per fused tile (scratch is rows x TN floats). */
export const TN = 128;

/** Words common to every parameter block. */
export const COMMON = {
  /** Counted up by the kernel at every checkpoint (the watchdog's sign of progress). */
  PROGRESS: 29,
  /** The operation ({@link OP}). */
  OP: 30,
  /** Address of the pool's stop word (0: none): kernels stop at a checkpoint once it is set. */
  STOP: 31,
} as const;

/** Word offsets of a GEMM / fused encode block. */
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
  /** Rows per checkpoint inside a tile (0: all M). */
  RB: 23,
  /** First row of the first tile: where a stopped job resumes (zero it when posting anew). */
  R0: 24,
  /** PREC int8: address of the {@link I8} words. */
  AUX: 25,
  /** PREC int8: 0 rows, 1 int8 tiles, 2 cut, 3 exact rescoring, 4 done (zero it when posting anew). */
  PHASE: 26,
} as const;

/**
 * Words of the int8 encode's aux block (one per part): activations as u8 (q + 64) LDA bytes
 * apart, int8 panels at B (KP deep), per-column data COL (4 arrays of NPAD: scale, sum of q,
 * bound on the weight error, ||wq||), per-row data ROW (4 f32: scale, ||x||, ||x - xq||, 0).
 * Then, for the cut and the rescoring (assembly/int8_rescore.ts): PART of PARTS, DESC (every
 * part's selection: 4 words each, as MERGE's), CUT (candidates rescored per row over all parts;
 * 0: every one), C0/C1 (this part's columns), OWN (per row), PROW/PCOL/SLOT/EXACT (pairs),
 * COUNTS (columns + 1 + PARTS words of scratch), NPAIRS and G (set by the kernel), GSTEP
 * (pairs between checkpoints), OVAL/OIDX/OCNT (the survivors, OSTRIDE per row).
 */
export const I8 = {
  A: 0,
  LDA: 1,
  B: 2,
  KP: 3,
  COL: 4,
  NPAD: 5,
  ROW: 6,
  PART: 7,
  PARTS: 8,
  DESC: 9,
  CUT: 10,
  C0: 11,
  C1: 12,
  OWN: 13,
  PROW: 14,
  PCOL: 15,
  SLOT: 16,
  EXACT: 17,
  COUNTS: 18,
  NPAIRS: 19,
  G: 20,
  GSTEP: 21,
  OVAL: 22,
  OIDX: 23,
  OCNT: 24,
} as const;

/** Word offsets of an int8 quantization: panels [P0, P1) of the f32 panels at SRC (K deep). */
export const QUANT_I8 = {
  SRC: 0,
  K: 1,
  KP: 2,
  DST: 3,
  COL: 4,
  NPAD: 5,
  P0: 6,
  P1: 7,
} as const;

/**
 * Word offsets of a column-major relayout: panels [P0, P1) of the f32 encoder at PTR (K deep)
 * each become their 8 columns of K floats, through SCRATCH (K * 32 bytes, one per job).
 */
export const COLUMN_MAJOR = { PTR: 0, K: 1, P0: 2, P1: 3, SCRATCH: 4 } as const;

/**
 * Word offsets of an int8 finish: phases 2 and 3 of the PARTS int8 encode blocks listed at
 * BLOCKS (i32 addresses), then the MERGE block.
 */
export const I8_FINISH = { PARTS: 0, BLOCKS: 1, MERGE: 2 } as const;

/**
 * Word offsets of an axpy block: out row r (LDO floats apart) += SCALE[r] * sum over j in
 * [ROWPTR[r], ROWPTR[r + 1]) of VAL[j] * W[IDX[j]], for r in [R0, R1); N (a multiple of 8)
 * columns, W rows LDW bytes apart in precision PREC.
 */
export const AXPY = {
  OUT: 0,
  LDO: 1,
  W: 2,
  LDW: 3,
  IDX: 4,
  VAL: 5,
  ROWPTR: 6,
  SCALE: 7,
  R0: 8,
  R1: 9,
  N: 10,
  PREC: 11,
} as const;

/**
 * Word offsets of a block-transpose step: ROWS x COLS blocks of 32 bytes at PTR, a zeroed
 * bitmap of ROWS * COLS bits at VISITED, 64 zeroed bytes of walk state at STATE, at most
 * BUDGET block moves per step.
 */
export const TRANSPOSE_BLOCKS = {
  PTR: 0,
  ROWS: 1,
  COLS: 2,
  VISITED: 3,
  STATE: 4,
  BUDGET: 5,
} as const;

/**
 * Word offsets of a compaction: elements [I0, I1) of the f32 array at PTR; f16 overflows are
 * added to OVERFLOW.
 */
export const COMPACT = { PTR: 0, I0: 1, I1: 2, OVERFLOW: 3 } as const;

/** Word offsets of an f32 transpose: DST[c * LDD + r] = SRC[r * COLS + c], c in [C0, C1). */
export const TRANSPOSE_F32 = {
  SRC: 0,
  ROWS: 1,
  COLS: 2,
  DST: 3,
  LDD: 4,
  C0: 5,
  C1: 6,
} as const;

/**
 * Word offsets of a merge: for rows [R0, R1), the candidates of PARTS per-part selections
 * (DESC: PARTS descriptors of 4 words: values, indices, counts, bytes between rows) become the
 * best CAP (every one when 0) in OVAL/OIDX (OSTRIDE entries per row), sorted by value
 * descending then index ascending, with their count in OCNT.
 */
export const MERGE = {
  DESC: 0,
  PARTS: 1,
  CAP: 2,
  OVAL: 3,
  OIDX: 4,
  OCNT: 5,
  OSTRIDE: 6,
  R0: 7,
  R1: 8,
} as const;

/** Words in a parameter block. */
export const PARAM_WORDS = 32;

/** Bytes of walk state a block transpose needs. */
export const TRANSPOSE_STATE_BYTES = 64;
