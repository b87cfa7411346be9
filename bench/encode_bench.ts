/**
 * Encode of the reference and WASM backends side by side on a synthetic TopK dictionary, and
 * request parsing cost (JSON vs .npy). The full-size comparison with PyTorch over HTTP is
 * bench/encode_vs_torch.ts.
 * Run: npx -y deno@2.9.6 task bench
 */

import { matrix } from "../domain/sae/matrix.ts";
import { decodeNpy, encodeNpy } from "../domain/io/npy.ts";
import { openBackend } from "../backends/select.ts";
import { encodeRows } from "../domain/sae/sae.ts";
import { wasmBackend } from "../backends/wasm/mod.ts";
import type { SaeWeights } from "../domain/sae/dictionary.ts";
import { uniformArray } from "../domain/random.ts";

const D_IN = 512;
const D_SAE = 4096;

/** `n` seeded values uniform on [-0.05, 0.05). */
const random = (n: number, seed: number): Float32Array => uniformArray(n, seed, { scale: 0.05 });

const weights: SaeWeights = {
  dIn: D_IN,
  dSae: D_SAE,
  wEnc: matrix([D_IN, D_SAE], random(D_IN * D_SAE, 1)),
  wDec: matrix([D_SAE, D_IN], random(D_SAE * D_IN, 2)),
  bDec: new Float32Array(D_IN),
  preBias: null,
  activation: { kind: "topk", bEnc: new Float32Array(D_SAE), k: 32 },
  normalization: "none",
  wSkip: null,
};
const reference = await openBackend("reference");
const wasm = await wasmBackend();
const wasmBf16 = await wasmBackend({ weights: "bf16" });

for (
  const [name, backend] of [["reference", reference], ["wasm f32", wasm], [
    "wasm bf16",
    wasmBf16,
  ]] as const
) {
  const prepared = await backend.prepare(weights);
  for (const rows of [1, 16]) {
    const x = matrix([rows, D_IN], random(rows * D_IN, 3 + rows));
    Deno.bench(
      `${name} encode ${D_IN}x${D_SAE} topk, ${rows} row(s)`,
      { group: `encode-${rows}`, baseline: name === "reference" },
      async () => {
        await encodeRows({ backend, prepared }, x);
      },
    );
  }
}

const x64 = random(64 * D_IN, 9);
const json = JSON.stringify({
  activations: Array.from(
    { length: 64 },
    (_, r) => Array.from(x64.subarray(r * D_IN, (r + 1) * D_IN)),
  ),
});
const npy = encodeNpy(x64, [64, D_IN]);
Deno.bench("parse 64 rows as JSON", { group: "parse", baseline: true }, () => {
  JSON.parse(json);
});
Deno.bench("parse 64 rows as .npy", { group: "parse" }, () => {
  decodeNpy(npy);
});
