/**
 * Loading an aligned (multi-stream) dictionary (saeserve.json of kind "aligned" +
 * aligned.safetensors) from a store folder.
 * @module
 */

import { SaeError } from "../../domain/errors.ts";
import { readJsonObject } from "../../domain/families/folder.ts";
import {
  ALIGNED_FILE,
  type AlignedDictionary,
  loadAligned,
  parseAlignedConfig,
} from "../../domain/features/aligned.ts";
import type { Loader } from "../lease_cache.ts";
import type { Store } from "../store/mod.ts";
import type { AlignedEntry } from "./entry.ts";
import { unreadable } from "./errors.ts";
import { type FolderFiles, lookFolder, SIDECAR, storeFolder } from "./store_folder.ts";

/** Bytes an aligned dictionary holds: each stream's encoder, decoder and biases in f32. */
export function alignedBytes(aligned: AlignedDictionary): number {
  return aligned.streams.reduce(
    (n, s) => n + 4 * (2 * s.d * aligned.latents + s.d + aligned.latents),
    0,
  );
}

/** The loader of the aligned dictionary in folder `id` of `store`. */
export function alignedLoader(store: Store, id: string): Loader<AlignedEntry, FolderFiles> {
  return {
    look: () => lookFolder(store, id),
    load: async (files) => {
      if (!files.has(ALIGNED_FILE) || !files.has(SIDECAR)) {
        throw new SaeError("not_found", `no aligned dictionary ${JSON.stringify(id)} in the store`);
      }
      try {
        const folder = storeFolder(store, id, { files });
        const config = parseAlignedConfig(await readJsonObject(folder, SIDECAR));
        const aligned = await loadAligned(await folder.open(ALIGNED_FILE), config);
        return { value: { kind: "aligned", aligned }, bytes: alignedBytes(aligned) };
      } catch (e) {
        throw unreadable(`aligned dictionary ${id}`, e);
      }
    },
  };
}
