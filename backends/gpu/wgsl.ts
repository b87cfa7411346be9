/**
 * The WGSL kernels of the WebGPU backend: a tiled GEMM with workgroup-shared tiles and a fused
 * bias + activation epilogue, a bitonic partial top-k in workgroup memory, and a sparse
 * decode / steer accumulation. Per-thread state is kept to four vec4 accumulators (llvmpipe
 * has miscompiled large per-thread arrays).
 * @module
 */

import type { Precision } from "../../domain/precision.ts";

/** Score given to latents an activation switches off: below every real value. */
export const EXCLUDED = -3.0e38;

/** Rows and columns of one GEMM workgroup tile. */
export const GEMM_TILE = 64;

/** Candidates sorted by one top-k workgroup. */
export const SELECT_BLOCK = 1024;

/** Activation codes of the GEMM epilogue. */
export const EPILOGUE = { none: 0, relu: 1, jumprelu: 2, gated: 3 } as const;

const GEMM_HEADER = /* wgsl */ `
struct Params {
  m: u32, n: u32, k: u32, lda: u32,
  ldb: u32, ldc: u32, a_off: u32, c_off: u32,
  accumulate: u32, act: u32, _p0: u32, _p1: u32,
};
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) WEIGHTS_B
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> thr: array<f32>;
@group(0) @binding(6) var<storage, read> bmag: array<f32>;

`;

const GEMM_EPILOGUE = /* wgsl */ `
const EXCLUDED: f32 = ${EXCLUDED};
fn epilogue(v: f32, col: u32) -> f32 {
  if (p.act == 0u) { return v; }
  if (p.act == 3u) {
    let g = v + bias[col];
    let mag = v * thr[col] + bmag[col];
    if (g > 0.0 && mag > 0.0) { return mag; }
    return EXCLUDED;
  }
  let h = v + bias[col];
  if (h > 0.0 && (p.act != 2u || h > thr[col])) { return h; }
  return EXCLUDED;
}

fn finish(r: u32, c: u32, v: f32) {
  if (r >= p.m || c >= p.n) { return; }
  let at = r * p.ldc + p.c_off + c;
  var x = v;
  if (p.accumulate == 1u) { x = x + C[at]; }
  C[at] = epilogue(x, p.c_off + c);
}

`;

/**
 * C[m, c_off + n] (+)= A[m, a_off + k] @ B[k, n] for one B chunk, then the epilogue: `none`
 * stores the product; the activations store the latent's value where it is active and
 * EXCLUDED where it is not (so a top-k can run on the scores directly).
 */
const GEMM = /* wgsl */ `${GEMM_HEADER}const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;
var<workgroup> As: array<f32, 1024>; // [TK][TM]
var<workgroup> Bs: array<f32, 1024>; // [TK][TN]

${GEMM_EPILOGUE}@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row0 = wg.y * TM;
  let col0 = wg.x * TN;
  let t = lid.y * 16u + lid.x;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < p.k; k0 = k0 + TK) {
    for (var i = 0u; i < 4u; i = i + 1u) {
      let e = t * 4u + i;
      // A tile element (row e / TK, depth e % TK).
      let ar = e / TK;
      let ak = e % TK;
      var av = 0.0;
      if (row0 + ar < p.m && k0 + ak < p.k) { av = A[(row0 + ar) * p.lda + p.a_off + k0 + ak]; }
      As[ak * TM + ar] = av;
      // B tile element (depth e / TN, column e % TN).
      let bk = e / TN;
      let bc = e % TN;
      var bv = 0.0;
      if (k0 + bk < p.k && col0 + bc < p.n) { bv = loadB((k0 + bk) * p.ldb + col0 + bc); }
      Bs[bk * TN + bc] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk = kk + 1u) {
      let a = vec4<f32>(As[kk * TM + lid.y * 4u], As[kk * TM + lid.y * 4u + 1u],
                        As[kk * TM + lid.y * 4u + 2u], As[kk * TM + lid.y * 4u + 3u]);
      let b = vec4<f32>(Bs[kk * TN + lid.x * 4u], Bs[kk * TN + lid.x * 4u + 1u],
                        Bs[kk * TN + lid.x * 4u + 2u], Bs[kk * TN + lid.x * 4u + 3u]);
      acc0 = acc0 + a.x * b;
      acc1 = acc1 + a.y * b;
      acc2 = acc2 + a.z * b;
      acc3 = acc3 + a.w * b;
    }
    workgroupBarrier();
  }
  let r = row0 + lid.y * 4u;
  let c = col0 + lid.x * 4u;
  for (var j = 0u; j < 4u; j = j + 1u) {
    finish(r, c + j, acc0[j]);
    finish(r + 1u, c + j, acc1[j]);
    finish(r + 2u, c + j, acc2[j]);
    finish(r + 3u, c + j, acc3[j]);
  }
}
`;

/**
 * Partial top-k: workgroup (block, row) sorts SELECT_BLOCK candidates of its row (value
 * descending, ties by lower index) with a bitonic network in workgroup memory and writes the
 * first k. With implicit = 1 the candidates' indices are their columns.
 */
export const SELECT = /* wgsl */ `
struct Params { n: u32, ld: u32, k: u32, out_ld: u32, implicit: u32, col_base: u32, _p0: u32, _p1: u32 };
@group(0) @binding(0) var<storage, read> vals: array<f32>;
@group(0) @binding(1) var<storage, read> idxs: array<u32>;
@group(0) @binding(2) var<storage, read_write> out_vals: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_idx: array<u32>;
@group(0) @binding(4) var<uniform> p: Params;

const B: u32 = ${SELECT_BLOCK}u;
const EXCLUDED: f32 = ${EXCLUDED};
var<workgroup> sv: array<f32, ${SELECT_BLOCK}>;
var<workgroup> si: array<u32, ${SELECT_BLOCK}>;

fn better(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
  return va > vb || (va == vb && ia < ib);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let block = wg.x;
  let row = wg.y;
  for (var t = 0u; t < 4u; t = t + 1u) {
    let e = lid.x + t * 256u;
    let g = block * B + e;
    if (g < p.n) {
      sv[e] = vals[row * p.ld + g];
      if (p.implicit == 1u) { si[e] = p.col_base + g; } else { si[e] = idxs[row * p.ld + g]; }
    } else {
      sv[e] = EXCLUDED;
      si[e] = 0xffffffffu;
    }
  }
  workgroupBarrier();
  for (var size = 2u; size <= B; size = size << 1u) {
    for (var stride = size >> 1u; stride > 0u; stride = stride >> 1u) {
      for (var t = 0u; t < 4u; t = t + 1u) {
        let e = lid.x + t * 256u;
        let l = e ^ stride;
        if (l > e) {
          let first_better = (e & size) == 0u;
          let ok = better(sv[e], si[e], sv[l], si[l]);
          if (ok != first_better) {
            let v = sv[e]; sv[e] = sv[l]; sv[l] = v;
            let i = si[e]; si[e] = si[l]; si[l] = i;
          }
        }
      }
      workgroupBarrier();
    }
  }
  for (var e = lid.x; e < p.k; e = e + 256u) {
    out_vals[row * p.out_ld + block * p.k + e] = sv[e];
    out_idx[row * p.out_ld + block * p.k + e] = si[e];
  }
}
`;

/**
 * out[r, c] += scale[r] * sum_j val[r, j] * W[idx[r, j] - row0, c] over the entries whose
 * latent lies in this decoder chunk [row0, row0 + rows).
 */
const DECODE = /* wgsl */ `
struct Params { rows: u32, d: u32, width: u32, row0: u32, chunk_rows: u32, ld: u32, _p1: u32, _p2: u32 };
@group(0) @binding(0) WEIGHTS_W
@group(0) @binding(1) var<storage, read> idx: array<i32>;
@group(0) @binding(2) var<storage, read> val: array<f32>;
@group(0) @binding(3) var<storage, read> scale: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let r = gid.y;
  if (c >= p.d || r >= p.rows) { return; }
  var s = 0.0;
  for (var j = 0u; j < p.width; j = j + 1u) {
    let i = idx[r * p.width + j];
    if (i >= i32(p.row0) && i < i32(p.row0 + p.chunk_rows)) {
      s = s + val[r * p.width + j] * loadW(u32(i - i32(p.row0)) * p.ld + c);
    }
  }
  out[r * p.d + c] = out[r * p.d + c] + scale[r] * s;
}
`;

/** Rows per skinny-GEMM invocation; batches up to SKINNY_MAX_ROWS rows use it. */
export const SKINNY_ROWS = 4;
/** Largest batch encoded with the skinny kernel instead of 64-row tiles. */
export const SKINNY_MAX_ROWS = 16;
/** Columns of one skinny-GEMM workgroup (its depth is split eight ways). */
export const SKINNY_COLUMNS = 32;

/**
 * The same product and epilogue for a few rows (single-token steering). A workgroup takes 32
 * columns and four rows; its eight slices of 32 threads each sum every eighth step of the depth
 * (a slice reads 128 contiguous bytes of B a step), and the slices' sums meet in workgroup
 * memory. One thread per column looping over the whole depth left the GPU waiting on memory:
 * 1.85 ms for one row of a 2304 x 16384 dictionary on an H200, where torch took 0.14.
 */
const SKINNY = /* wgsl */ `${GEMM_HEADER}${GEMM_EPILOGUE}
const SLICES: u32 = 8u;
var<workgroup> partial: array<vec4<f32>, 256>;

@compute @workgroup_size(${SKINNY_COLUMNS}, 8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = wg.x * ${SKINNY_COLUMNS}u + lid.x;
  let r0 = wg.y * 4u;
  let rows = min(4u, p.m - r0);
  var acc = vec4<f32>(0.0);
  if (c < p.n) {
    for (var k = lid.y; k < p.k; k = k + SLICES) {
      let b = loadB(k * p.ldb + c);
      var a = vec4<f32>(0.0);
      a.x = A[r0 * p.lda + p.a_off + k];
      if (rows > 1u) { a.y = A[(r0 + 1u) * p.lda + p.a_off + k]; }
      if (rows > 2u) { a.z = A[(r0 + 2u) * p.lda + p.a_off + k]; }
      if (rows > 3u) { a.w = A[(r0 + 3u) * p.lda + p.a_off + k]; }
      acc = acc + a * b;
    }
  }
  partial[lid.y * ${SKINNY_COLUMNS}u + lid.x] = acc;
  workgroupBarrier();
  if (lid.y != 0u || c >= p.n) { return; }
  var sum = vec4<f32>(0.0);
  for (var s = 0u; s < SLICES; s = s + 1u) { sum = sum + partial[s * ${SKINNY_COLUMNS}u + lid.x]; }
  for (var i = 0u; i < rows; i = i + 1u) { finish(r0 + i, c, sum[i]); }
}
`;

/**
 * The declaration of weight array `name` plus its element loader: f32 as is; f16 and bf16
 * two per u32 (element i in the low half when i is even), unpacked to f32 in the shader, so
 * no shader-f16 feature is needed and arithmetic stays f32.
 */
function weights(name: string, precision: Precision): string {
  if (precision === "f32") {
    return `var<storage, read> ${name}: array<f32>;
fn load${name}(i: u32) -> f32 { return ${name}[i]; }`;
  }
  const unpack = precision === "f16"
    ? `return unpack2x16float(w)[i & 1u];`
    : `if ((i & 1u) == 0u) { return bitcast<f32>(w << 16u); } return bitcast<f32>(w & 0xffff0000u);`;
  return `var<storage, read> ${name}: array<u32>;
fn load${name}(i: u32) -> f32 { let w = ${name}[i >> 1u]; ${unpack} }`;
}

/** The GEMM over weights stored in `precision`. */
export function gemmShader(precision: Precision): string {
  return GEMM.replace("WEIGHTS_B", weights("B", precision));
}

/** The skinny GEMM over weights stored in `precision`. */
export function skinnyShader(precision: Precision): string {
  return SKINNY.replace("WEIGHTS_B", weights("B", precision));
}

/** The decode / steer accumulation over a decoder stored in `precision`. */
export function decodeShader(precision: Precision): string {
  return DECODE.replace("WEIGHTS_W", weights("W", precision));
}
