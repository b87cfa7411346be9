/**
 * Loading a dictionary's explanations (explanations.json, .json.gz or .jsonl beside its
 * weights) and indexing them for search. A missing file is an empty set; an unreadable or
 * malformed one is a set with warnings: explanations never fail their dictionary. Only a
 * store that cannot be read (kind "unavailable") fails the load, to be retried.
 * @module
 */

import { SaeError } from "../../domain/errors.ts";
import { readJsonObject } from "../../domain/families/folder.ts";
import { describeFolder } from "../../domain/families/mod.ts";
import {
  emptyExplanations,
  explanationFileOf,
  type ExplanationSet,
  explanationText,
  MAX_EXPLANATION_BYTES,
  neuronpediaIdOf,
  parseExplanations,
} from "../../domain/features/explanations.ts";
import { indexExplanations } from "../../domain/features/search.ts";
import { readRange } from "../../domain/io/byte_source.ts";
import type { Loader } from "../lease_cache.ts";
import type { Store } from "../store/mod.ts";
import type { ExplanationsEntry } from "./entry.ts";
import { formatOf } from "./dictionary.ts";
import { type FolderFiles, lookFolder, storeFolder } from "./store_folder.ts";

/** Rough bytes an indexed explanation set holds per byte of its file's text. */
const BYTES_PER_TEXT_BYTE = 4;

/** The loader of the explanations of the dictionary in folder `id` of `store`. */
export function explanationsLoader(
  store: Store,
  id: string,
): Loader<ExplanationsEntry, FolderFiles> {
  return {
    look: () => lookFolder(store, id),
    load: async (files) => {
      const { set, textBytes } = await readExplanations(store, id, files);
      const index = indexExplanations(set);
      return {
        value: { kind: "explanations", set, index },
        bytes: textBytes * BYTES_PER_TEXT_BYTE + 1024,
      };
    },
  };
}

async function readExplanations(
  store: Store,
  id: string,
  files: FolderFiles,
): Promise<{ set: ExplanationSet; textBytes: number }> {
  const format = formatOf(id, files); // "not_found" unless a dictionary is there
  const folder = storeFolder(store, id, { files });
  const file = explanationFileOf(files.keys());
  if (!file) return { set: emptyExplanations(), textBytes: 0 };
  try {
    const description = await describeFolder(format, folder);
    const cfg = files.has("cfg.json") ? await readJsonObject(folder, "cfg.json") : undefined;
    const size = files.get(file)!;
    if (size > MAX_EXPLANATION_BYTES) {
      return {
        set: emptyExplanations([`${file}: over ${MAX_EXPLANATION_BYTES} bytes, not read`]),
        textBytes: 0,
      };
    }
    const source = await folder.open(file);
    const text = await explanationText(await readRange(source, 0, source.size), { file });
    const set = parseExplanations(text, {
      file,
      dSae: description.dSae,
      neuronpediaId: neuronpediaIdOf(cfg),
    });
    return { set, textBytes: text.length };
  } catch (e) {
    if (e instanceof SaeError && e.kind === "unavailable") throw e;
    return {
      set: emptyExplanations([`${file}: not read (${(e as Error).message})`]),
      textBytes: 0,
    };
  }
}
