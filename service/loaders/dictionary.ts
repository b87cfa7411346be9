/**
 * Loading a dictionary from a store folder: detect its family, refuse one over the memory
 * budget, load its weights (streaming into the backend's arena when it offers one) while
 * checking the sha256 of each file saeserve.json lists, and prepare it on the backend.
 * @module
 */

import type { Backend, MatrixArena } from "../../backends/backend.ts";
import { SaeError } from "../../domain/errors.ts";
import { readJsonObject } from "../../domain/families/folder.ts";
import {
  describeFolder,
  detectFormat,
  type FormatName,
  loadFolder,
  partialFolder,
} from "../../domain/families/mod.ts";
import type { HashingSource } from "../../domain/io/hashing_source.ts";
import { weightBytes } from "../../domain/sae/dictionary.ts";
import type { Loader } from "../lease_cache.ts";
import type { Counter, Histogram } from "../prometheus.ts";
import type { Store } from "../store/mod.ts";
import { isAlignedFolder } from "./aligned.ts";
import type { DictionaryEntry } from "./entry.ts";
import { OverBudgetError, unreadable } from "./errors.ts";
import { type FolderFiles, lookFolder, SIDECAR, storeFolder } from "./store_folder.ts";

/** What a dictionary load needs besides its store and id. */
export interface DictionaryLoaderOptions {
  readonly backend: Backend;
  /** A dictionary whose weights alone exceed this never loads. */
  readonly memoryBudget: number;
  /** Loads by result, and load time in seconds. */
  readonly metrics: { readonly loads: Counter; readonly loadSeconds: Histogram };
}

/** The family of the files in folder `id`; "not_found" when no known family's files are there. */
export function formatOf(id: string, files: FolderFiles): FormatName {
  const format = detectFormat(files.keys());
  if (!format) {
    const partial = partialFolder(files.keys());
    const hint = isAlignedFolder(files)
      ? ` (it is an aligned dictionary: use /v1/aligned/${encodeURIComponent(id)})`
      : partial
      ? ` (its folder holds ${partial}: an upload still in progress, or a file missing?)`
      : "";
    throw new SaeError("not_found", `no dictionary ${JSON.stringify(id)} in the store${hint}`);
  }
  return format;
}

/** The sha256 of each file that saeserve.json lists. */
export function expectedHashes(sidecar: Record<string, unknown> | undefined): Map<string, string> {
  const out = new Map<string, string>();
  const hashes = sidecar?.sha256;
  if (hashes && typeof hashes === "object") {
    for (const [name, hex] of Object.entries(hashes)) {
      if (typeof hex === "string") out.set(name, hex.toLowerCase());
    }
  }
  return out;
}

/** The loader of the dictionary in folder `id` of `store`. */
export function dictionaryLoader(
  store: Store,
  id: string,
  options: DictionaryLoaderOptions,
): Loader<DictionaryEntry, FolderFiles> {
  return {
    look: () => lookFolder(store, id),
    load: (files) => loadDictionary(store, id, { ...options, files }),
  };
}

async function loadDictionary(
  store: Store,
  id: string,
  options: DictionaryLoaderOptions & { files: FolderFiles },
): Promise<{ value: DictionaryEntry; bytes: number }> {
  const { backend, memoryBudget, metrics, files } = options;
  const started = performance.now();
  let arena: MatrixArena | undefined;
  try {
    const format = formatOf(id, files);
    const description = await describeFolder(format, storeFolder(store, id, { files }));
    if (description.weightBytes > memoryBudget) {
      throw new OverBudgetError(
        "unavailable",
        `dictionary ${id} needs ${description.weightBytes} bytes, over the memory budget of ${memoryBudget}`,
      );
    }
    const sidecar = files.has(SIDECAR)
      ? await readJsonObject(storeFolder(store, id, { files }), SIDECAR)
      : undefined;
    const expected = expectedHashes(sidecar);
    const hashed = new Map<string, HashingSource>();
    // Large matrices stream straight into the backend's memory when it offers an arena.
    arena = backend.arena?.();
    const weights = await loadFolder(
      format,
      storeFolder(store, id, { files, hashed: expected.size ? hashed : undefined }),
      { alloc: arena?.alloc },
    );
    for (const [name, h] of hashed) {
      const want = expected.get(name);
      if (!want) continue;
      const got = await h.finish();
      if (got !== want) {
        throw new SaeError(
          "integrity",
          `${id}/${name}: sha256 ${got} does not match saeserve.json (${want})`,
        );
      }
    }
    const prepared = await backend.prepare(weights);
    metrics.loads.inc({ result: "ok" });
    metrics.loadSeconds.observe((performance.now() - started) / 1000);
    return {
      value: {
        kind: "dictionary",
        description,
        summary: { id, format, loaded: true, description, sidecar },
        prepared,
      },
      bytes: weightBytes(weights) + prepared.extraBytes,
    };
  } catch (e) {
    metrics.loads.inc({ result: e instanceof SaeError ? e.kind : "error" });
    throw unreadable(`dictionary ${id}`, e);
  } finally {
    arena?.dispose();
  }
}
