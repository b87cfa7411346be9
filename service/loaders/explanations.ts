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
  parseExplanationsInSlices,
} from "../../domain/features/explanations.ts";
import { readRange } from "../../domain/io/byte_source.ts";
import type { Loader } from "../lease_cache.ts";
import type { Store } from "../store/mod.ts";
import type { ExplanationsEntry, ExplanationsSummary } from "./entry.ts";
import { formatOf } from "./dictionary.ts";
import { type FolderFiles, listingOf, lookFolder, storeFolder } from "./store_folder.ts";

/**
 * Bytes an indexed explanation set holds per byte of its file's text: the heap growth (after a
 * full collection) of parsing and indexing 1M generated explanations was 10.1 per byte as JSON
 * Lines `{"feature", "text"}` and 5.0 as Neuronpedia's export, whose metadata fields make the
 * file longer (882 and 1089 bytes per explanation; `deno run -A bench/explanation_load.ts`).
 * The larger is charged: a budget may over-count, it must not under-count.
 */
const BYTES_PER_TEXT_BYTE = 10;

/** The loader of the explanations of the dictionary in folder `id` of `store`. */
export function explanationsLoader(
  store: Store,
  id: string,
): Loader<ExplanationsEntry, FolderFiles> {
  return {
    look: () => lookFolder(store, id),
    load: async (files) => {
      const { set, textBytes } = await readExplanations(store, id, files);
      // Reading and indexing a million explanations takes half a minute of CPU: both run in
      // slices of 10 ms on this thread, which keeps answering requests between them.
      // The search index (MiniSearch) is loaded with the first explanations, not at start.
      const { indexExplanationsInSlices } = await import("../../domain/features/search.ts");
      const index = await indexExplanationsInSlices(set);
      return {
        value: { kind: "explanations", set, index },
        bytes: textBytes * BYTES_PER_TEXT_BYTE + 1024,
      };
    },
  };
}

/**
 * An explanation set's summary, as the dictionary list shows it (`options.file`: the folder's
 * explanations file, for a set that could not be read); none without a file.
 */
export function explanationsSummary(
  set: ExplanationSet,
  options?: { file?: string },
): ExplanationsSummary | undefined {
  const file = set.file ?? options?.file;
  if (!file) return undefined;
  return { file, count: set.count, features: set.byFeature.size, warnings: set.warnings };
}

/**
 * The summaries the dictionary list shows, remembered per folder listing. The list reads an
 * explanations file once (no search index) and keeps its summary, outside the memory budget: it
 * must never evict a loaded dictionary, as loading the indexed set would.
 */
export class ExplanationSummaries {
  readonly #known = new Map<string, { version: string; summary: ExplanationsSummary }>();
  /** Reads under way, by id and listing: concurrent listings share one. */
  readonly #reading = new Map<string, Promise<ExplanationsSummary>>();

  /**
   * The summary of `id`'s explanations file, read if its folder changed since; none without one.
   * A store that could not be read (kind "unavailable") is reported but not remembered.
   */
  summary(
    store: Store,
    folder: { id: string; files: FolderFiles },
  ): Promise<ExplanationsSummary | undefined> {
    const { id, files } = folder;
    const file = explanationFileOf(files.keys());
    if (!file) return Promise.resolve(undefined);
    const version = listingOf(files);
    const known = this.#known.get(id);
    if (known?.version === version) return Promise.resolve(known.summary);
    const key = `${id}\n${version}`;
    let reading = this.#reading.get(key);
    if (!reading) {
      reading = this.#read(store, { id, files, file, version });
      this.#reading.set(key, reading);
      reading.finally(() => this.#reading.delete(key)).catch(() => {});
    }
    return reading;
  }

  /** The last summary read for `id`, whatever its listing. */
  peek(id: string): ExplanationsSummary | undefined {
    return this.#known.get(id)?.summary;
  }

  async #read(
    store: Store,
    at: { id: string; files: FolderFiles; file: string; version: string },
  ): Promise<ExplanationsSummary> {
    try {
      const { set } = await readExplanations(store, at.id, at.files);
      const summary = explanationsSummary(set, { file: at.file })!;
      this.#known.set(at.id, { version: at.version, summary });
      return summary;
    } catch (e) {
      // Transient (the store is unreachable): the next listing tries again.
      return {
        file: at.file,
        count: 0,
        features: 0,
        warnings: [`${at.file}: not read (${(e as Error).message})`],
      };
    }
  }
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
    const text = await explanationText(
      await readRange(source, { offset: 0, length: source.size }),
      { file },
    );
    const set = await parseExplanationsInSlices(text, {
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
