/**
 * A synthetic SAELens TopK dictionary written to disk for the benchmarks (Gemma Scope 2B 16k
 * size by default): encoder Gaussian, decoder its transpose.
 * @module
 */

import { encodeSafetensors } from "../domain/io/safetensors.ts";

/** Seeded Gaussian numbers times `scale`. */
export function gaussian(n: number, scale: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 2 ** 32;
  };
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next())) * scale;
    const t = 2 * Math.PI * next();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** Write `dir/name/` (cfg.json + sae_weights.safetensors); returns the weights file's size. */
export async function writeTopKDictionary(
  dir: string,
  options: { name?: string; dIn?: number; dSae?: number; k?: number } = {},
): Promise<number> {
  const { name = "big", dIn = 2304, dSae = 16384, k = 64 } = options;
  const wEnc = gaussian(dIn * dSae, 0.02, 1);
  const wDec = new Float32Array(dSae * dIn);
  for (let i = 0; i < dIn; i++) {
    for (let j = 0; j < dSae; j++) wDec[j * dIn + i] = wEnc[i * dSae + j];
  }
  const bytes = encodeSafetensors({
    W_enc: { shape: [dIn, dSae], data: wEnc },
    W_dec: { shape: [dSae, dIn], data: wDec },
    b_enc: { shape: [dSae], data: gaussian(dSae, 0.01, 2) },
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
