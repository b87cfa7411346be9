/**
 * Loading an aligned (multi-stream) dictionary (saeserve.json of kind "aligned" +
 * aligned.safetensors) from a store folder, and describing one from its saeserve.json.
 * @module
 */

import { SaeError } from "../../domain/errors.ts";
import { readJsonObject } from "../../domain/families/folder.ts";
import {
  ALIGNED_FILE,
  type AlignedDictionary,
  loadAligned,
  parseAlignedConfig,
} from "../../domain/sae/aligned.ts";
import type { Loader } from "../lease_cache.ts";
import type { Store } from "../store/mod.ts";
import type { AlignedEntry, AlignedSummary } from "./entry.ts";
import { unreadable } from "./errors.ts";
import { type FolderFiles, lookFolder, SIDECAR, storeFolder } from "./store_folder.ts";

/** Bytes an aligned dictionary holds: each stream's encoder, decoder and biases in f32. */
export function alignedBytes(aligned: AlignedDictionary): number {
  return aligned.streams.reduce(
    (n, s) => n + 4 * (2 * s.d * aligned.latents + s.d + aligned.latents),
    0,
  );
}

/** Whether a folder holds an aligned dictionary's files (aligned.safetensors + saeserve.json). */
export function isAlignedFolder(files: FolderFiles): boolean {
  return files.has(ALIGNED_FILE) && files.has(SIDECAR);
}

/**
 * Folder `id` described from its saeserve.json without reading the weights. A config that
 * cannot be read or parsed gives a summary with `error`; a store that cannot be reached throws
 * SaeError "unavailable".
 */
export async function summarizeAligned(
  store: Store,
  id: string,
  options: { files: FolderFiles; loaded: boolean },
): Promise<AlignedSummary> {
  const { loaded } = options;
  let sidecar: Record<string, unknown> | undefined;
  try {
    sidecar = await readJsonObject(storeFolder(store, id, options), SIDECAR);
    const { latents, k, streams } = parseAlignedConfig(sidecar);
    return { id, loaded, latents, k, streams, sidecar };
  } catch (e) {
    if (e instanceof SaeError && e.kind === "unavailable") throw e;
    return { id, loaded, error: (e as Error).message, sidecar };
  }
}

/** An aligned dictionary in memory described as listed (no store read). */
export function loadedAlignedSummary(id: string, entry: AlignedEntry): AlignedSummary {
  const { aligned, sidecar } = entry;
  const streams = aligned.streams.map((s) => ({ name: s.name, d: s.d }));
  return { id, loaded: true, latents: aligned.latents, k: aligned.k, streams, sidecar };
}

/** The loader of the aligned dictionary in folder `id` of `store`. */
export function alignedLoader(store: Store, id: string): Loader<AlignedEntry, FolderFiles> {
  return {
    look: () => lookFolder(store, id),
    load: async (files) => {
      if (!isAlignedFolder(files)) {
        throw new SaeError("not_found", `no aligned dictionary ${JSON.stringify(id)} in the store`);
      }
      try {
        const folder = storeFolder(store, id, { files });
        const sidecar = await readJsonObject(folder, SIDECAR);
        const aligned = await loadAligned(
          await folder.open(ALIGNED_FILE),
          parseAlignedConfig(sidecar),
        );
        return { value: { kind: "aligned", aligned, sidecar }, bytes: alignedBytes(aligned) };
      } catch (e) {
        throw unreadable(`aligned dictionary ${id}`, e);
      }
    },
  };
}
