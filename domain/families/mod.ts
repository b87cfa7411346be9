/**
 * Checkpoint families: detect a folder's family from its file names, describe it cheaply, and
 * load it into canonical weights.
 * @module
 */

import type { SaeWeights } from "../sae/dictionary.ts";
import {
  describeDictionaryLearning,
  DICTIONARY_LEARNING_FILES,
  loadDictionaryLearning,
} from "./dictionary_learning.ts";
import type { Folder } from "./folder.ts";
import { describeGemmaScope, GEMMA_SCOPE_FILE, loadGemmaScope } from "./gemma_scope.ts";
import type { DictionaryDescription, FormatName, LoadOptions } from "./loaded.ts";
import { describeSaeLens, loadSaeLens, SAELENS_FILES } from "./saelens.ts";
import { describeSaev, loadSaev, SAEV_FILE } from "./saev.ts";
import { describeSparsify, loadSparsify, SPARSIFY_FILES } from "./sparsify.ts";

export type { Folder } from "./folder.ts";
export type { Architecture, DictionaryDescription, FormatName, LoadOptions } from "./loaded.ts";

/** The family whose files `names` holds, or null if none does. */
export function detectFormat(names: Iterable<string>): FormatName | null {
  const set = new Set(names);
  if (SAELENS_FILES.every((f) => set.has(f))) return "saelens";
  if (SPARSIFY_FILES.every((f) => set.has(f))) return "sparsify";
  if (set.has(GEMMA_SCOPE_FILE)) return "gemma_scope";
  if (set.has(SAEV_FILE)) return "saev";
  if (DICTIONARY_LEARNING_FILES.every((f) => set.has(f))) return "dictionary_learning";
  return null;
}

/**
 * What a folder that no family claims lacks, when it holds part of one (an upload in progress, a
 * file left behind): e.g. "cfg.json but no sae_weights.safetensors (SAELens) or sae.safetensors
 * (sparsify)"; null when it holds nothing of any family.
 */
export function partialFolder(names: Iterable<string>): string | null {
  const set = new Set(names);
  const families: [string, readonly string[]][] = [
    ["SAELens", SAELENS_FILES],
    ["sparsify", SPARSIFY_FILES],
    ["dictionary_learning", DICTIONARY_LEARNING_FILES],
  ];
  const partial = families.filter(([, files]) => files.some((f) => set.has(f)));
  if (partial.length === 0) return null;
  const held = [...new Set(partial.flatMap(([, files]) => files.filter((f) => set.has(f))))];
  const lacking = partial.map(([family, files]) =>
    `${files.filter((f) => !set.has(f)).join(" and ")} (${family})`
  );
  return `${held.join(" and ")} but no ${lacking.join(" or ")}`;
}

/** Describe a folder of a known family without reading its weights. */
export function describeFolder(format: FormatName, folder: Folder): Promise<DictionaryDescription> {
  switch (format) {
    case "saelens":
      return describeSaeLens(folder);
    case "gemma_scope":
      return describeGemmaScope(folder);
    case "sparsify":
      return describeSparsify(folder);
    case "saev":
      return describeSaev(folder);
    case "dictionary_learning":
      return describeDictionaryLearning(folder);
  }
}

/** Load a folder of a known family into canonical f32 weights. */
export function loadFolder(
  format: FormatName,
  folder: Folder,
  options?: LoadOptions,
): Promise<SaeWeights> {
  switch (format) {
    case "saelens":
      return loadSaeLens(folder, options);
    case "gemma_scope":
      return loadGemmaScope(folder, options);
    case "sparsify":
      return loadSparsify(folder, options);
    case "saev":
      return loadSaev(folder, options);
    case "dictionary_learning":
      return loadDictionaryLearning(folder, options);
  }
}
