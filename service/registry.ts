/**
 * The dictionary registry: discovers dictionary folders in the store, loads each once
 * (concurrent first requests share one load), prepares it on the backend, keeps loaded ones
 * under a byte budget with LRU eviction, and never evicts a dictionary a request holds.
 *
 * A failed load is remembered with exponential backoff, so a broken dictionary (a zip bomb, a
 * truncated file, a hash mismatch) is not re-read on every request: until the retry time the
 * same error comes back at the cost of one folder listing, with `retry_after` (Retry-After on
 * a 503), from `acquire`, and for broken files from `describe` and `list` (whose own describe
 * failures are remembered the same way). Broken files back off from 1 s to 5 min; store errors that struck while the store
 * still lists the folder back off from 250 ms to 30 s; a store error that struck while the
 * store could not even list it is retried as soon as it lists again. A changed folder listing
 * (a file added, removed or resized) or a successful load forgets the failure; a file
 * replaced by one of the same size is picked up at the next retry. "Not found" is never
 * remembered.
 * @module
 */

import type { Backend, Prepared } from "../backends/backend.ts";
import type { AlignedDictionary } from "../domain/sae/aligned.ts";
import type { ExplanationSet } from "../domain/features/explanations.ts";
import type { ExplanationIndex } from "../domain/features/search.ts";
import type { ModelHead } from "../domain/features/head.ts";
import { checkDictionaryId } from "../domain/sae/dictionary_id.ts";
import { SaeError } from "../domain/errors.ts";
import { readJsonObject } from "../domain/families/folder.ts";
import {
  describeFolder,
  detectFormat,
  type DictionaryDescription,
  type FormatName,
} from "../domain/families/mod.ts";
import { IdleCollector, type IdleCollectorOptions } from "./idle_collector.ts";
import { type Backoff, type CacheLease, LeaseCache, type Loader } from "./lease_cache.ts";
import {
  alignedLoader,
  type AlignedSummary,
  BROKEN_BACKOFF,
  dictionaryLoader,
  type DictionarySummary,
  type Entry,
  type EntryKey,
  explanationsLoader,
  type ExplanationsSummary,
  explanationsSummary,
  ExplanationSummaries,
  failureKind,
  filesOf,
  type FolderFiles,
  folders,
  formatOf,
  headLoader,
  isAlignedFolder,
  keyOf,
  listingOf,
  loadedAlignedSummary,
  SIDECAR,
  storeFolder,
  summarizeAligned,
  TRANSIENT_BACKOFF,
  withRetryAfter,
} from "./loaders/mod.ts";
import { Counter, Histogram, type MetricsRegistry } from "./prometheus.ts";
import type { Store } from "./store/mod.ts";

export type { Backoff } from "./lease_cache.ts";
export {
  type AlignedSummary,
  BROKEN_BACKOFF,
  type DictionarySummary,
  SIDECAR,
  TRANSIENT_BACKOFF,
} from "./loaders/mod.ts";

/** A loaded dictionary held by one request; call `release` when done. */
export interface Lease {
  readonly id: string;
  readonly description: DictionaryDescription;
  readonly prepared: Prepared;
  release(): void;
}

/** A loaded model head held by one request; call `release` when done. */
export interface HeadLease {
  readonly id: string;
  readonly head: ModelHead;
  release(): void;
}

/** A loaded aligned dictionary held by one request; call `release` when done. */
export interface AlignedLease {
  readonly id: string;
  readonly aligned: AlignedDictionary;
  release(): void;
}

/** A dictionary's explanations held by one request; call `release` when done. */
export interface ExplanationsLease {
  readonly id: string;
  readonly set: ExplanationSet;
  readonly index: ExplanationIndex;
  release(): void;
}

/** What the store holds: its dictionaries and its aligned dictionaries, each sorted by id. */
export interface Catalog {
  readonly dictionaries: DictionarySummary[];
  readonly aligned: AlignedSummary[];
}

/** Registry settings. */
export interface RegistryOptions {
  readonly backend: Backend;
  /** Bytes of loaded weights (plus backend copies) to keep; LRU beyond that. */
  readonly memoryBudget: number;
  readonly metrics?: MetricsRegistry;
  /** Retry delays after failed loads; defaults {@link BROKEN_BACKOFF}, {@link TRANSIENT_BACKOFF}. */
  readonly backoff?: { readonly broken?: Backoff; readonly transient?: Backoff };
  /** Clock in ms (tests); default Date.now. */
  readonly now?: () => number;
  /** Garbage collection after loads and once no lease is held (service/idle_collector.ts). */
  readonly collector?: IdleCollectorOptions;
}

/** Loads, caches and lends dictionaries, model heads and aligned dictionaries from one store. */
export class Registry {
  readonly #store: Store;
  readonly #options: RegistryOptions;
  readonly #cache: LeaseCache<EntryKey, Entry>;
  readonly #loads: Counter;
  readonly #loadSeconds: Histogram;
  /** Dictionaries loaded at some point; {@link loadedDictionaries} keeps those still loaded. */
  readonly #seen = new Set<string>();
  readonly #collector: IdleCollector;
  readonly #summaries = new ExplanationSummaries();

  /** A registry over `store`. */
  constructor(store: Store, options: RegistryOptions) {
    this.#store = store;
    this.#options = options;
    const m = options.metrics;
    this.#loads = new Counter("saeserve_dictionary_loads_total", "Dictionary loads by result.");
    const evictions = new Counter(
      "saeserve_dictionary_evictions_total",
      "Dictionaries evicted by the LRU.",
    );
    this.#loadSeconds = new Histogram(
      "saeserve_dictionary_load_seconds",
      "Time to fetch, parse and prepare a dictionary.",
      [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    );
    m?.add(this.#loads);
    m?.add(evictions);
    m?.add(this.#loadSeconds);
    const collector = this.#collector = new IdleCollector(options.collector);
    this.#cache = new LeaseCache<EntryKey, Entry>({
      budget: options.memoryBudget,
      keyOf,
      backoff: {
        broken: options.backoff?.broken ?? BROKEN_BACKOFF,
        transient: options.backoff?.transient ?? TRANSIENT_BACKOFF,
      },
      classify: failureKind,
      annotate: withRetryAfter,
      dispose: (e) => {
        if (e.kind === "dictionary") options.backend.release(e.prepared);
      },
      onEvict: () => evictions.inc(),
      onLoaded: () => collector.afterLoad(),
      now: options.now,
    });
  }

  /** The store behind this registry. */
  get store(): Store {
    return this.#store;
  }

  /** Bytes held by loaded dictionaries (and heads and aligned dictionaries). */
  get bytesLoaded(): number {
    return this.#cache.bytes;
  }

  /** Number of loaded dictionaries (and heads and aligned dictionaries). */
  get loadedCount(): number {
    return this.#cache.size;
  }

  /** Whether dictionary `id` is loaded now. */
  isLoaded(id: string): boolean {
    return this.#cache.peek({ kind: "dictionary", id }) !== undefined;
  }

  /** The ids of the dictionaries loaded now, sorted (for the per-dictionary gauge). */
  loadedDictionaries(): string[] {
    for (const id of this.#seen) if (!this.isLoaded(id)) this.#seen.delete(id);
    return [...this.#seen].sort();
  }

  /** Every dictionary folder in the store, described (a folder that fails carries `error`). */
  async list(): Promise<DictionarySummary[]> {
    return (await this.catalog()).dictionaries;
  }

  /**
   * Every dictionary and aligned dictionary in the store, from one listing, described (a
   * folder that fails carries `error`).
   */
  async catalog(): Promise<Catalog> {
    const groups = folders(await this.#store.list(""));
    const dictionaries: DictionarySummary[] = [];
    const aligned: AlignedSummary[] = [];
    for (const [id, files] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
      const format = detectFormat(files.keys());
      if (format) dictionaries.push(await this.#summarize(id, format, files));
      else if (isAlignedFolder(files)) {
        const loaded = this.#cache.peek({ kind: "aligned", id }) !== undefined;
        aligned.push(await summarizeAligned(this.#store, id, { files, loaded }));
      }
    }
    return { dictionaries, aligned };
  }

  /**
   * One aligned dictionary, described from its saeserve.json (from memory while loaded);
   * throws "not_found" when the folder holds none, "unavailable" when its config is unreadable.
   */
  async describeAligned(id: string): Promise<AlignedSummary> {
    checkDictionaryId(id);
    const e = this.#cache.peek({ kind: "aligned", id });
    if (e?.kind === "aligned") return loadedAlignedSummary(id, e);
    const files = await filesOf(this.#store, id);
    if (!isAlignedFolder(files)) {
      throw new SaeError("not_found", `no aligned dictionary ${JSON.stringify(id)} in the store`);
    }
    const key: EntryKey = { kind: "aligned", id };
    const listing = listingOf(files);
    const failed = this.#cache.recall(key, listing);
    if (failed?.kind === "broken") throw failed.error;
    const summary = await summarizeAligned(this.#store, id, { files, loaded: false });
    if (!summary.error) return summary;
    const error = new SaeError(
      "unavailable",
      `aligned dictionary ${id} cannot be read: ${summary.error}`,
    );
    throw this.#cache.remember(key, error, { kind: "broken", version: listing });
  }

  /** One dictionary, described; throws "not_found" when no known family's files are there. */
  async describe(id: string): Promise<DictionarySummary> {
    checkDictionaryId(id);
    // A loaded dictionary is described from memory, so it keeps serving while the store is down.
    const loaded = this.#dictionary(id);
    if (loaded) return this.#withCachedExplanations(loaded.summary);
    const files = await filesOf(this.#store, id);
    const format = formatOf(id, files);
    const listing = listingOf(files);
    const key: EntryKey = { kind: "dictionary", id };
    const failed = this.#cache.recall(key, listing);
    if (failed?.kind === "broken") throw failed.error;
    const summary = await this.#summarize(id, format, files);
    if (summary.error) {
      const error = new SaeError(
        "unavailable",
        `dictionary ${id} cannot be read: ${summary.error}`,
      );
      throw this.#cache.remember(key, error, { kind: "broken", version: listing });
    }
    return summary;
  }

  /** Borrow a loaded dictionary, loading it first if needed. */
  async acquire(id: string): Promise<Lease> {
    checkDictionaryId(id);
    const { backend, memoryBudget } = this.#options;
    const metrics = { loads: this.#loads, loadSeconds: this.#loadSeconds };
    const lease = await this.#borrow(
      { kind: "dictionary", id },
      dictionaryLoader(this.#store, id, { backend, memoryBudget, metrics }),
    );
    const e = expectKind(lease, "dictionary");
    this.#seen.add(id);
    return { id, description: e.description, prepared: e.prepared, release: lease.release };
  }

  /**
   * Borrow a model head (a folder with head.safetensors and head.json), loading it first if
   * needed; heads share the dictionaries' memory budget and LRU.
   */
  async acquireHead(id: string): Promise<HeadLease> {
    checkDictionaryId(id);
    const lease = await this.#borrow({ kind: "head", id }, headLoader(this.#store, id));
    return { id, head: expectKind(lease, "head").head, release: lease.release };
  }

  /** Borrow an aligned dictionary (saeserve.json kind "aligned" + aligned.safetensors). */
  async acquireAligned(id: string): Promise<AlignedLease> {
    checkDictionaryId(id);
    const lease = await this.#borrow({ kind: "aligned", id }, alignedLoader(this.#store, id));
    return { id, aligned: expectKind(lease, "aligned").aligned, release: lease.release };
  }

  /**
   * Borrow dictionary `id`'s explanations indexed for search, loading them first if needed
   * (an empty set when its folder has no explanations file); they share the memory budget.
   */
  async acquireExplanations(id: string): Promise<ExplanationsLease> {
    checkDictionaryId(id);
    const lease = await this.#borrow(
      { kind: "explanations", id },
      explanationsLoader(this.#store, id),
    );
    const e = expectKind(lease, "explanations");
    return { id, set: e.set, index: e.index, release: lease.release };
  }

  /**
   * What a folder's explanations file holds (undefined without one): from the loaded set, else
   * read once per folder listing without loading anything (the list never evicts).
   */
  #explanations(id: string, files: FolderFiles): Promise<ExplanationsSummary | undefined> {
    const e = this.#cache.peek({ kind: "explanations", id });
    const loaded = e?.kind === "explanations" ? explanationsSummary(e.set) : undefined;
    return loaded ? Promise.resolve(loaded) : this.#summaries.summary(this.#store, { id, files });
  }

  /** A loaded dictionary's summary with its explanations' summary, when they are loaded too. */
  #withCachedExplanations(summary: DictionarySummary): DictionarySummary {
    const e = this.#cache.peek({ kind: "explanations", id: summary.id });
    const explanations = e?.kind === "explanations"
      ? explanationsSummary(e.set)
      : this.#summaries.peek(summary.id);
    return explanations ? { ...summary, explanations } : summary;
  }

  /** Drop every loaded dictionary and every remembered failure (used at shutdown). */
  close(): void {
    this.#collector.close();
    this.#cache.clear();
  }

  /** Borrow from the cache, counting the lease as work in progress for the idle collector. */
  async #borrow<S>(key: EntryKey, loader: Loader<Entry, S>): Promise<CacheLease<Entry>> {
    const done = this.#collector.enter();
    try {
      const lease = await this.#cache.borrow(key, loader);
      return { value: lease.value, release: () => (lease.release(), done()) };
    } catch (e) {
      done();
      throw e;
    }
  }

  /** The loaded dictionary `id`, if any. */
  #dictionary(id: string): Extract<Entry, { kind: "dictionary" }> | undefined {
    const e = this.#cache.peek({ kind: "dictionary", id });
    return e?.kind === "dictionary" ? e : undefined;
  }

  async #summarize(
    id: string,
    format: FormatName,
    files: FolderFiles,
  ): Promise<DictionarySummary> {
    const loaded = this.#dictionary(id);
    // A broken dictionary backing off is listed with its error, without reading it again.
    const failed = loaded
      ? undefined
      : this.#cache.recall({ kind: "dictionary", id }, listingOf(files));
    if (failed?.kind === "broken") {
      return { id, format, loaded: false, error: (failed.error as Error).message };
    }
    const folder = storeFolder(this.#store, id, { files });
    let sidecar: Record<string, unknown> | undefined;
    try {
      if (files.has(SIDECAR)) sidecar = await readJsonObject(folder, SIDECAR);
      const description = loaded?.description ?? await describeFolder(format, folder);
      const explanations = await this.#explanations(id, files);
      return { id, format, loaded: !!loaded, description, sidecar, explanations };
    } catch (e) {
      if (e instanceof SaeError && e.kind === "unavailable") throw e;
      return { id, format, loaded: !!loaded, error: (e as Error).message, sidecar };
    }
  }
}

/** The entry a lease holds, which is of its key's kind (the loader for that kind made it). */
function expectKind<T extends Entry["kind"]>(
  lease: CacheLease<Entry>,
  kind: T,
): Extract<Entry, { kind: T }> {
  const e = lease.value;
  if (e.kind !== kind) throw new Error(`registry: a ${e.kind} cached as a ${kind}`);
  return e as Extract<Entry, { kind: T }>;
}
