/**
 * What reduced-precision weights cost in accuracy: encode the same rows with f32, bf16, f16 and
 * int8 weights (WASM backend; int8 selects candidates with an int8 encoder and rescores them in
 * f32, so its values should equal f32's exactly and only boundary membership may differ) on a
 * 2304 x 16384 TopK (k = 64) dictionary and report the top-k agreement (share of f32's 64
 * indices that the reduced-precision encode also returns), the relative error of the kept
 * values and of the reconstructions. Two sets of rows: sparse sums of dictionary directions
 * plus noise (like real activations), and plain Gaussian rows (as bench/encode_vs_torch.ts
 * sends: the densest pre-activations, the hardest case for a candidate margin). Ends with the
 * int8 goal: agreement >= 99.9 % and every shared value within 1e-5 relative of f32.
 * Run: deno task wasm && deno run -A bench/precision_error.ts
 * @module
 */

import type { SaeWeights } from "../domain/sae/dictionary.ts";
import { type Matrix, matrix, type SparseRows } from "../domain/sae/matrix.ts";
import type { Precision } from "../domain/precision.ts";
import { gaussianArray } from "../domain/random.ts";
import { wasmBackend } from "../backends/wasm/mod.ts";
import { scaledGaussian } from "./synthetic_dictionary.ts";

const D_IN = Number(Deno.env.get("BENCH_D_IN") ?? 2304);
const D_SAE = Number(Deno.env.get("BENCH_D_SAE") ?? 16384);
const K = 64;
const ROWS = 64;

const wDecData = scaledGaussian(D_SAE * D_IN, 1, { scale: 1 / Math.sqrt(D_IN) });
const wEncData = new Float32Array(D_IN * D_SAE);
for (let j = 0; j < D_SAE; j++) {
  for (let i = 0; i < D_IN; i++) wEncData[i * D_SAE + j] = wDecData[j * D_IN + i];
}
const weights = (): SaeWeights => ({
  dIn: D_IN,
  dSae: D_SAE,
  wEnc: matrix([D_IN, D_SAE], wEncData),
  wDec: matrix([D_SAE, D_IN], wDecData),
  bDec: new Float32Array(D_IN),
  preBias: null,
  activation: { kind: "topk", bEnc: scaledGaussian(D_SAE, 2, { scale: 0.05 }), k: K },
  normalization: "none",
  wSkip: null,
});
// Sparse combinations of dictionary directions plus noise, like real activations.
const structured = matrix([ROWS, D_IN], scaledGaussian(ROWS * D_IN, 3, { scale: 0.3 }));
for (let r = 0; r < ROWS; r++) {
  for (let t = 0; t < 32; t++) {
    const j = (r * 7919 + t * 104729) % D_SAE;
    for (let i = 0; i < D_IN; i++) structured.data[r * D_IN + i] += 2 * wDecData[j * D_IN + i];
  }
}
const INPUTS: [string, Matrix][] = [
  ["structured", structured],
  ["gaussian", matrix([ROWS, D_IN], gaussianArray(ROWS * D_IN, 4))],
];

interface Encoded {
  codes: SparseRows;
  recon: Float32Array;
}

async function run(precision: Precision): Promise<Encoded[]> {
  const backend = await wasmBackend({ weights: precision });
  try {
    const prepared = await backend.prepare(weights());
    const out: Encoded[] = [];
    for (const [, x] of INPUTS) {
      const codes = await backend.encode(prepared, x);
      out.push({ codes, recon: (await backend.decodeSparse(prepared, codes)).data });
    }
    return out;
  } finally {
    backend.close();
  }
}

/** Agreement with `base` (share of its latents), the largest relative error and unequal count. */
function compare(
  got: Encoded,
  base: Encoded,
): { agreement: number; maxErr: number; unequal: number; recon: number } {
  let shared = 0;
  let maxErr = 0;
  let unequal = 0;
  for (let r = 0; r < ROWS; r++) {
    const want = new Map<number, number>();
    base.codes.indices[r].forEach((i, j) => want.set(i, base.codes.values[r][j]));
    got.codes.indices[r].forEach((i, j) => {
      const w = want.get(i);
      if (w === undefined) return;
      shared++;
      if (got.codes.values[r][j] !== w) unequal++;
      maxErr = Math.max(maxErr, Math.abs(got.codes.values[r][j] - w) / Math.abs(w));
    });
  }
  let num = 0;
  let den = 0;
  for (let i = 0; i < got.recon.length; i++) {
    num += (got.recon[i] - base.recon[i]) ** 2;
    den += base.recon[i] ** 2;
  }
  const total = base.codes.indices.reduce((s, ix) => s + ix.length, 0);
  return { agreement: shared / total, maxErr, unequal, recon: Math.sqrt(num / den) };
}

const base = await run("f32");
console.log(
  `dictionary ${D_IN} x ${D_SAE} TopK k=${K}, ${ROWS} rows a set; reference: f32 weights`,
);
console.log(
  "rows        weights  top-k agreement  max rel. error of shared values  recon. rel. error (L2)  values != f32",
);
const goals: string[] = [];
for (const precision of ["bf16", "f16", "int8"] as const) {
  const encoded = await run(precision);
  INPUTS.forEach(([name], s) => {
    const c = compare(encoded[s], base[s]);
    console.log(
      `${name.padEnd(11)} ${precision.padEnd(8)} ${(100 * c.agreement).toFixed(2).padStart(14)}%  ${
        c.maxErr.toExponential(2).padStart(31)
      }  ${c.recon.toExponential(2).padStart(22)}  ${String(c.unequal).padStart(13)}`,
    );
    if (precision === "int8") {
      const met = c.agreement >= 0.999 && c.maxErr <= 1e-5;
      goals.push(`${name} ${met ? "met" : "NOT met"}`);
    }
  });
}
console.log(`int8 goal (agreement >= 99.9 %, values within 1e-5 of f32): ${goals.join(", ")}`);
