// The kernels' constants and parameter-block words (mirrored by wasm/params.ts: keep the two
// in step), with the accessors every kernel uses: param, setParam and checkpoint.

export const PREC_F32: i32 = 0;
export const PREC_BF16: i32 = 1;
export const PREC_F16: i32 = 2;
export const PREC_INT8: i32 = 3; // int8 encode (I8_* aux words), rescored exactly in f32

export const ACT_DENSE: i32 = 0; // write pre-activations to C
export const ACT_RELU: i32 = 1; // h = p + bias; keep h > 0
export const ACT_JUMPRELU: i32 = 2; // h = p + bias; keep h > thr && h > 0
export const ACT_GATED: i32 = 3; // g = p + bias; m = p * scale + bmag; keep m if g > 0 && m > 0

export const TN: i32 = 128; // columns per fused tile
export const KC: i32 = 256; // depth per cache block

// Parameter block (i32 words).
export const P_A = 0;
export const P_LDA = 1; // elements
export const P_M = 2;
export const P_B = 3;
export const P_K = 4;
export const P_N0 = 5; // first column (multiple of 8)
export const P_N1 = 6; // end column (multiple of 8)
export const P_LDB = 7; // bytes between consecutive k within a panel
export const P_PSTRIDE = 8; // bytes between panels
export const P_PREC = 9;
export const P_ACT = 10;
export const P_BIAS = 11;
export const P_THR = 12;
export const P_BMAG = 13;
export const P_CAP = 14; // heap capacity per row; 0 = keep every candidate (list)
export const P_OVAL = 15;
export const P_OIDX = 16;
export const P_OCNT = 17;
export const P_SCRATCH = 18;
export const P_C = 19; // dense output base (ACT_DENSE)
export const P_LDC = 20; // dense output row length (elements)
export const P_OSTRIDE = 21; // entries per row in the output lists / heaps
export const P_NREAL = 22; // real column count (columns >= NREAL are padding)
export const P_RB = 23; // rows per checkpoint inside a tile (0: all M)
export const P_R0 = 24; // first row of the first tile (where a stopped job resumes; the host zeroes it)
export const P_AUX = 25; // PREC_INT8: address of the I8_* words
export const P_PHASE = 26; // PREC_INT8: 0 rows, 1 int8 tiles, 2 cut, 3 exact rescoring, 4 done (the host zeroes it)
// Words common to every parameter block (the other words depend on the operation).
export const P_PROGRESS = 29; // counted up at every checkpoint (the pool's watchdog reads it)
export const P_OP = 30;
export const P_STOP = 31; // address of the pool's stop word (0: none)

export const OP_GEMM = 0; // GEMM / fused encode (the P_* words above)
export const OP_AXPY = 1; // sparse rows times W, per output row (AX_* words)
export const OP_TRANSPOSE_BLOCKS = 2; // a bounded step of the in-place block transpose (TB_* words)
export const OP_COMPACT_BF16 = 3; // f32 -> bf16 in place over [i0, i1) (CP_* words)
export const OP_COMPACT_F16 = 4; // f32 -> f16 in place over [i0, i1) (CP_* words)
export const OP_TRANSPOSE_F32 = 5; // out-of-place f32 transpose of a column range (TF_* words)
export const OP_MERGE = 6; // merge per-part selections into sorted rows (MG_* words)
export const OP_QUANT_I8 = 7; // f32 panels -> int8 panels and per-column data (QI_* words)
export const OP_COLUMN_MAJOR = 8; // f32 panels -> column-major, in place (CM_* words)
export const OP_TRAIN_PANELS = 40; // training: f32 matrix -> encoder panels (train_params.ts TPN_* words)
export const OP_TRAIN_ENCODE = 41; // training: encoder GEMM fused with the TopK / AuxK selections (TEN_*)
export const OP_TRAIN_DECODE = 42; // training: sparse decoder product and residual (TDE_*)
export const OP_TRAIN_BACKWARD = 43; // training: backward pass over active latents (TBW_*)
export const OP_I8_FINISH = 60; // the int8 encode's cut, rescoring and merge on one worker (FN_* words)

// PREC_INT8 aux words: activations as u8 (q + 64, q in [-63, 63]) LDA8 bytes apart; int8 panels
// (panel p at B8 + p * KP * 8, four k of one column in 4 bytes, 8 columns in 32); per-column
// data COL (4 arrays of NPAD: scale f32, sum of q i32, error bound on ||w - wq|| (with the f32
// dot's rounding folded in) f32, ||wq|| f32); per-row data ROW (4 f32: scale, ||x||, ||x - xq||, 0).
export const I8_A = 0;
export const I8_LDA = 1;
export const I8_B = 2;
export const I8_KP = 3;
export const I8_COL = 4;
export const I8_NPAD = 5;
export const I8_ROW = 6;
// The int8 encode's later phases (int8_rescore.ts): each part has its own aux block. PART of
// PARTS; DESC: every part's estimate lists (4 words each, as MG_DESC); CUT: candidates rescored
// per row over all parts (0: every one); C0/C1: this part's columns; OWN: per row, this part's
// entries within the cut; PROW/PCOL: rows and columns of the pairs to rescore, SLOT: each own
// entry's pair, EXACT: one f32 per pair (and 8 of slack), COUNTS: columns + 1 + PARTS i32 of scratch, NPAIRS:
// pairs found, G: next pair to rescore, GSTEP: pairs between checkpoints; OVAL/OIDX/OCNT: the
// rescored survivors (OSTRIDE of the P block per row).
export const I8_PART = 7;
export const I8_PARTS = 8;
export const I8_DESC = 9;
export const I8_CUT = 10;
export const I8_C0 = 11;
export const I8_C1 = 12;
export const I8_OWN = 13;
export const I8_PROW = 14;
export const I8_PCOL = 15;
export const I8_SLOT = 16;
export const I8_EXACT = 17;
export const I8_COUNTS = 18;
export const I8_NPAIRS = 19;
export const I8_G = 20;
export const I8_GSTEP = 21;
export const I8_OVAL = 22;
export const I8_OIDX = 23;
export const I8_OCNT = 24;

// OP_QUANT_I8: panels [P0, P1) of the f32 panels at SRC (K deep) into int8 panels at DST (KP
// deep, a multiple of 4) and per-column data at COL (NPAD columns); P0 advances as it runs.
export const QI_SRC = 0;
export const QI_K = 1;
export const QI_KP = 2;
export const QI_DST = 3;
export const QI_COL = 4;
export const QI_NPAD = 5;
export const QI_P0 = 6;
export const QI_P1 = 7;

// OP_I8_FINISH: phases 2 and 3 of each of the PARTS int8 encode blocks listed at BLOCKS (i32
// addresses), in order, then the merge block MERGE; stopped at a checkpoint, it goes on where
// it was when posted again.
export const FN_PARTS = 0;
export const FN_BLOCKS = 1;
export const FN_MERGE = 2;

// OP_AXPY: out row r (LDO floats apart) += SCALE[r] * sum over j in [ROWPTR[r], ROWPTR[r+1])
// of VAL[j] * W[IDX[j]], for r in [R0, R1); rows of W are LDW bytes, N (multiple of 8) wide.
export const AX_OUT = 0;
export const AX_LDO = 1;
export const AX_W = 2;
export const AX_LDW = 3;
export const AX_IDX = 4;
export const AX_VAL = 5;
export const AX_ROWPTR = 6;
export const AX_SCALE = 7;
export const AX_R0 = 8;
export const AX_R1 = 9;
export const AX_N = 10;
export const AX_PREC = 11;

// OP_TRANSPOSE_BLOCKS: see transposeStep.
export const TB_PTR = 0;
export const TB_ROWS = 1;
export const TB_COLS = 2;
export const TB_VISITED = 3;
export const TB_STATE = 4;
export const TB_BUDGET = 5;

// OP_COMPACT_*: elements [I0, I1) of the f32 array at PTR; f16 overflows are added to OVERFLOW.
export const CP_PTR = 0;
export const CP_I0 = 1;
export const CP_I1 = 2;
export const CP_OVERFLOW = 3;

// OP_MERGE: for rows [R0, R1), the candidates of PARTS per-part selections (DESC: PARTS
// descriptors of 4 words: values, indices, counts, bytes between rows) become the best CAP
// (every one when 0) in OVAL/OIDX (OSTRIDE entries per row), sorted by value descending then
// index ascending, with their count in OCNT.
export const MG_DESC = 0;
export const MG_PARTS = 1;
export const MG_CAP = 2;
export const MG_OVAL = 3;
export const MG_OIDX = 4;
export const MG_OCNT = 5;
export const MG_OSTRIDE = 6;
export const MG_R0 = 7;
export const MG_R1 = 8;

// OP_COLUMN_MAJOR: panels [P0, P1) of the f32 encoder at PTR (K x 8 floats each) become their 8
// columns of K floats each, through SCRATCH (K * 32 bytes); stopped at a checkpoint, P0 is left
// at the next panel.
export const CM_PTR = 0;
export const CM_K = 1;
export const CM_P0 = 2;
export const CM_P1 = 3;
export const CM_SCRATCH = 4;

// OP_TRANSPOSE_F32: DST[c * LDD + r] = SRC[r * COLS + c] for r < ROWS, c in [C0, C1).
export const TF_SRC = 0;
export const TF_ROWS = 1;
export const TF_COLS = 2;
export const TF_DST = 3;
export const TF_LDD = 4;
export const TF_C0 = 5;
export const TF_C1 = 6;

@inline export function param(pb: usize, i: i32): i32 {
  return load<i32>(pb + (<usize>i << 2));
}

@inline export function setParam(pb: usize, i: i32, v: i32): void {
  store<i32>(pb + (<usize>i << 2), v);
}

// A checkpoint: count progress; true when the pool asks the job to stop here.
@inline export function checkpoint(pb: usize): bool {
  atomic.store<i32>(pb + (<usize>P_PROGRESS << 2), param(pb, P_PROGRESS) + 1);
  const flag = <usize>param(pb, P_STOP);
  return flag != 0 && atomic.load<i32>(flag) != 0;
}
