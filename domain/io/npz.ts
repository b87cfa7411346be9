/**
 * NumPy .npz: a zip of .npy members, one per array, STORED (np.savez) or DEFLATE
 * (np.savez_compressed), ZIP64 when large.
 * @module
 */

import type { ByteSource } from "./byte_source.ts";
import { encodeNpy, readNpyStream } from "./npy.ts";
import type { Tensor } from "../sae/tensor.ts";
import { encodeZip, openZipEntry, readZipDirectory, type ZipEntry } from "./zip.ts";

/** The members of an npz that hold arrays, by array name (the member name less ".npy"). */
export async function readNpzDirectory(source: ByteSource): Promise<Map<string, ZipEntry>> {
  const out = new Map<string, ZipEntry>();
  for (const entry of await readZipDirectory(source)) {
    if (entry.name.endsWith(".npy")) out.set(entry.name.slice(0, -4), entry);
  }
  return out;
}

/** Load one member as an f32 tensor, streaming it from the source. */
export async function loadNpzArray(
  source: ByteSource,
  entry: ZipEntry,
  options?: { alloc?: (length: number) => Float32Array },
): Promise<Tensor> {
  return await readNpyStream(await openZipEntry(source, entry), {
    maxBytes: entry.uncompressedSize,
    alloc: options?.alloc,
  });
}

/** An array to write into an npz. */
export interface NpzArray {
  /** Dimensions. */
  shape: number[];
  /** Values in row-major order (f32, or i32 for indices). */
  data: Float32Array | Int32Array;
}

/** Serialize named arrays as an .npz (DEFLATE with `compress`, ZIP64 records with `zip64`). */
export async function encodeNpz(
  arrays: Record<string, NpzArray>,
  options?: { compress?: boolean; zip64?: boolean },
): Promise<Uint8Array<ArrayBuffer>> {
  const entries = Object.entries(arrays).map(([name, a]) => ({
    name: `${name}.npy`,
    data: encodeNpy(a.data, a.shape),
  }));
  return await encodeZip(entries, options);
}
