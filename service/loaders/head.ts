/**
 * Loading a model head (head.safetensors + head.json) from a store folder.
 * @module
 */

import { SaeError } from "../../domain/errors.ts";
import { HEAD_FILES, headBytes, loadHead } from "../../domain/features/head.ts";
import type { Loader } from "../lease_cache.ts";
import type { Store } from "../store/mod.ts";
import type { HeadEntry } from "./entry.ts";
import { unreadable } from "./errors.ts";
import { type FolderFiles, lookFolder, storeFolder } from "./store_folder.ts";

/** The loader of the model head in folder `id` of `store`. */
export function headLoader(store: Store, id: string): Loader<HeadEntry, FolderFiles> {
  return {
    look: () => lookFolder(store, id),
    load: async (files) => {
      if (!files.has(HEAD_FILES.weights) || !files.has(HEAD_FILES.config)) {
        throw new SaeError("not_found", `no model head ${JSON.stringify(id)} in the store`);
      }
      try {
        const head = await loadHead(storeFolder(store, id, { files }));
        return { value: { kind: "head", head }, bytes: headBytes(head) };
      } catch (e) {
        throw unreadable(`model head ${id}`, e);
      }
    },
  };
}
