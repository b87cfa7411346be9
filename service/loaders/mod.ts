/**
 * What the registry loads from store folders, one loader per kind (dictionary, model head,
 * aligned dictionary), their cache keys and values, and how their failures back off.
 * @module
 */

export {
  alignedBytes,
  alignedLoader,
  isAlignedFolder,
  loadedAlignedSummary,
  summarizeAligned,
} from "./aligned.ts";
export {
  dictionaryLoader,
  type DictionaryLoaderOptions,
  expectedHashes,
  formatOf,
} from "./dictionary.ts";
export {
  type AlignedEntry,
  type AlignedSummary,
  type DictionaryEntry,
  type DictionarySummary,
  type Entry,
  type EntryKey,
  type EntryKind,
  type ExplanationsEntry,
  type ExplanationsSummary,
  type HeadEntry,
  keyOf,
} from "./entry.ts";
export {
  BROKEN_BACKOFF,
  failureKind,
  OverBudgetError,
  TRANSIENT_BACKOFF,
  unreadable,
  withRetryAfter,
} from "./errors.ts";
export { explanationsLoader, explanationsSummary, ExplanationSummaries } from "./explanations.ts";
export { headLoader } from "./head.ts";
export {
  filesOf,
  type FolderFiles,
  folders,
  listingOf,
  lookFolder,
  SIDECAR,
  storeFolder,
} from "./store_folder.ts";
