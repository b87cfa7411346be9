/**
 * A synthetic SAELens TopK dictionary written to disk for the benchmarks (Gemma Scope 2B 16k
 * size by default): encoder Gaussian, decoder its transpose.
 * @module
 */

import { encodeSafetensors } from "../domain/io/safetensors.ts";
import { gaussianArray } from "../domain/random.ts";

/** `n` seeded standard normal values times `scale` (domain/random.ts's gaussianArray). */
export function scaledGaussian(n: number, seed: number, options: { scale: number }): Float32Array {
  const out = gaussianArray(n, seed);
  for (let i = 0; i < n; i++) out[i] *= options.scale;
  return out;
}

/** Write `dir/name/` (cfg.json + sae_weights.safetensors); returns the weights file's size. */
export async function writeTopKDictionary(
  dir: string,
  options: { name?: string; dIn?: number; dSae?: number; k?: number } = {},
): Promise<number> {
  const { name = "big", dIn = 2304, dSae = 16384, k = 64 } = options;
  const wEnc = scaledGaussian(dIn * dSae, 1, { scale: 0.02 });
  const wDec = new Float32Array(dSae * dIn);
  for (let i = 0; i < dIn; i++) {
    for (let j = 0; j < dSae; j++) wDec[j * dIn + i] = wEnc[i * dSae + j];
  }
  const bytes = encodeSafetensors({
    W_enc: { shape: [dIn, dSae], data: wEnc },
    W_dec: { shape: [dSae, dIn], data: wDec },
    b_enc: { shape: [dSae], data: scaledGaussian(dSae, 2, { scale: 0.01 }) },
    b_dec: { shape: [dIn], data: new Float32Array(dIn) },
  });
  await Deno.mkdir(`${dir}/${name}`, { recursive: true });
  await Deno.writeFile(`${dir}/${name}/sae_weights.safetensors`, bytes);
  await Deno.writeTextFile(
    `${dir}/${name}/cfg.json`,
    JSON.stringify({
      architecture: "topk",
      d_in: dIn,
      d_sae: dSae,
      k,
      dtype: "float32",
      apply_b_dec_to_input: false,
    }),
  );
  return bytes.byteLength;
}
