/**
 * SAELens' feature density file (sparsity.safetensors beside the weights: one log10 firing
 * frequency per latent, as SAELens' training saves it), read for one feature with a ranged read.
 * @module
 */

import { FormatError, SaeError } from "../../domain/errors.ts";
import { readRange } from "../../domain/io/byte_source.ts";
import { bytesToF32, dtypeSize, isDType } from "../../domain/io/dtype.ts";
import { readSafetensorsHeader } from "../../domain/io/safetensors.ts";
import type { Store } from "../store/mod.ts";

/** The file SAELens writes beside sae_weights.safetensors. */
export const SPARSITY_FILE = "sparsity.safetensors";

/**
 * `log10_density` and `density` (the fraction of tokens it fires on) of `options.feature` from
 * dictionary `options.id`'s sparsity.safetensors; undefined when the folder has none. A file of
 * the wrong shape or type is a FormatError naming it.
 */
export async function featureDensity(
  store: Store,
  options: { id: string; feature: number; dSae: number },
): Promise<{ log10_density: number; density: number } | undefined> {
  const path = `${options.id}/${SPARSITY_FILE}`;
  let source;
  try {
    source = await store.open(path);
  } catch (e) {
    if (e instanceof SaeError && e.kind === "not_found") return undefined;
    throw e;
  }
  const header = await readSafetensorsHeader(source);
  const entry = header.tensors.get("sparsity") ?? header.tensors.get("log_feature_sparsity");
  if (!entry || !isDType(entry.dtype)) {
    throw new FormatError(SPARSITY_FILE, "needs a float tensor named sparsity");
  }
  const count = entry.shape.reduce((a, b) => a * b, 1);
  if (count !== options.dSae) {
    throw new FormatError(
      SPARSITY_FILE,
      `sparsity has ${count} values for ${options.dSae} latents`,
    );
  }
  const size = dtypeSize(entry.dtype);
  const bytes = await readRange(source, {
    offset: entry.begin + options.feature * size,
    length: size,
  });
  const log10 = bytesToF32(bytes, { dtype: entry.dtype, littleEndian: true })[0];
  return { log10_density: log10, density: 10 ** log10 };
}
