// Parameter-block words of the training kernels (OP_TRAIN_*, op codes 40-59 in params.ts),
// mirrored by wasm/train_params.ts (keep the two in step; train_params_test.ts compares them).
// Words P_PROGRESS, P_OP and P_STOP (29-31) are common to every block.

// OP_TRAIN_PANELS: the row-major [K, LDS floats] f32 matrix at SRC into panels of 8 columns at
// DST (panel p at DST + p * K * 32 bytes, row k of it at + k * 32), panels [P0, P1); P0
// advances as it runs.
export const TPN_SRC = 0;
export const TPN_LDS = 1;
export const TPN_K = 2;
export const TPN_DST = 3;
export const TPN_P0 = 4;
export const TPN_P1 = 5;

// OP_TRAIN_ENCODE: h = A @ B + BIAS for rows [RSTART, REND) of A (f32, LDA floats apart) and
// every column of the f32 panels at B, a tile of columns at a time, never held whole: each h is
// pushed into its row's main selection (the CAP largest h > 0) and, where DEAD[j] is non-zero,
// its aux selection (the ACAP largest h > 0 among those columns). A selection is a bounded heap
// of (value, index) at VAL + row * cap * 4 / IDX + row * cap * 4 with its count at CNT + row * 4
// (the host zeroes the counts); ties keep the lower index. Once every column is seen, the main
// selections are sorted by index ascending and the aux ones by value descending. Words 0, 1, 3,
// 4, 7 and 8 are gemmTile's (P_A, P_LDA, P_B, P_K, P_LDB, P_PSTRIDE). T and R: where a stopped
// job resumes (post anew with T = 0, R = RSTART).
export const TEN_A = 0;
export const TEN_LDA = 1;
export const TEN_RSTART = 2;
export const TEN_B = 3;
export const TEN_K = 4;
export const TEN_N = 5; // real columns
export const TEN_NPAD = 6; // columns in the panels (a multiple of 8)
export const TEN_LDB = 7;
export const TEN_PSTRIDE = 8;
export const TEN_BIAS = 9;
export const TEN_DEAD = 10; // i32 per column: -1 aux candidate, 0 not (0: no aux selection)
export const TEN_CAP = 11;
export const TEN_ACAP = 12;
export const TEN_MVAL = 13;
export const TEN_MIDX = 14;
export const TEN_MCNT = 15;
export const TEN_AVAL = 16;
export const TEN_AIDX = 17;
export const TEN_ACNT = 18;
export const TEN_SCRATCH = 19; // RB x TW f32
export const TEN_RB = 20; // rows per checkpoint
export const TEN_REND = 21;
export const TEN_T = 22;
export const TEN_R = 23;

// OP_TRAIN_DECODE: for rows r in [R0, R1): v = BIAS (0: none) + sum over the row's entries
// (VAL, IDX at r * STRIDE, CNT[r] of them) of VAL * W[IDX] + YS * Y[r]; SQ[r] = sum v^2 and
// OUT[r] = AO * v. Rows of W, Y and OUT are LD floats (a multiple of 4, zero-padded). YS and AO
// are f32 words.
export const TDE_OUT = 0;
export const TDE_LD = 1;
export const TDE_W = 2;
export const TDE_IDX = 3;
export const TDE_VAL = 4;
export const TDE_CNT = 5;
export const TDE_STRIDE = 6;
export const TDE_BIAS = 7;
export const TDE_Y = 8;
export const TDE_YS = 9;
export const TDE_AO = 10;
export const TDE_SQ = 11;
export const TDE_R0 = 12;
export const TDE_R1 = 13;

// OP_TRAIN_BACKWARD: for latents i in [L0, L1), over its entries e in [CPTR[i], CPTR[i + 1])
// (gradient row g = EROW[e] of G, activation EVAL[e]): dh = G[g] . W[i]; GW[i] = sum EVAL * G[g];
// GE[i] = sum dh * S[g mod ROWS]; GB[i] = sum dh. Rows are LD floats (a multiple of 8); every
// latent in range is written (zeros when it has no entries).
export const TBW_W = 0;
export const TBW_LD = 1;
export const TBW_G = 2;
export const TBW_S = 3;
export const TBW_ROWS = 4;
export const TBW_CPTR = 5;
export const TBW_EROW = 6;
export const TBW_EVAL = 7;
export const TBW_GW = 8;
export const TBW_GE = 9;
export const TBW_GB = 10;
export const TBW_L0 = 11;
export const TBW_L1 = 12;
