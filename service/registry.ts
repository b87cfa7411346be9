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

import type { Backend, MatrixArena, Prepared } from "../backends/backend.ts";
import type { ByteSource } from "../domain/io/byte_source.ts";
import { weightBytes } from "../domain/sae/dictionary.ts";
import { checkDictionaryId } from "../domain/sae/dictionary_id.ts";
import { FormatError, SaeError } from "../domain/errors.ts";
import { readJsonObject } from "../domain/families/folder.ts";
import {
  describeFolder,
  detectFormat,
  type DictionaryDescription,
  type Folder,
  type FormatName,
  loadFolder,
} from "../domain/families/mod.ts";
import { hashingSource } from "../domain/io/hashing_source.ts";
import { HEAD_FILES, headBytes, loadHead, type ModelHead } from "../domain/features/head.ts";
import {
  ALIGNED_FILE,
  type AlignedDictionary,
  loadAligned,
  parseAlignedConfig,
} from "../domain/features/aligned.ts";
import { Counter, Histogram, type MetricsRegistry } from "./prometheus.ts";
import type { Store } from "./store/mod.ts";

/** The optional saeserve.json beside a dictionary's files. */
export const SIDECAR = "saeserve.json";

/** One dictionary as listed. */
export interface DictionarySummary {
  readonly id: string;
  readonly format: FormatName;
  readonly loaded: boolean;
  /** Present when the folder could be described; `error` otherwise. */
  readonly description?: DictionaryDescription;
  readonly error?: string;
  /** Contents of saeserve.json, when present. */
  readonly sidecar?: Record<string, unknown>;
}

/** A loaded dictionary held by one request; call `release` when done. */
export interface Lease {
  readonly id: string;
  readonly description: DictionaryDescription;
  readonly prepared: Prepared;
  release(): void;
}

/** First delay and longest delay of one failure class's backoff, in ms. */
export interface Backoff {
  readonly firstMs: number;
  readonly maxMs: number;
}

/** Backoff of broken files (format, integrity, over the budget) unless configured. */
export const BROKEN_BACKOFF: Backoff = { firstMs: 1_000, maxMs: 300_000 };
/** Backoff of store and backend errors (503 "unavailable") unless configured. */
export const TRANSIENT_BACKOFF: Backoff = { firstMs: 250, maxMs: 30_000 };

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
}

/** A failed load, remembered until `retryAt` or until the folder listing changes. */
interface Failure {
  readonly error: unknown;
  readonly kind: "broken" | "transient";
  /** The folder listing the load saw; null when the store could not list it at the failure. */
  readonly listing: string | null;
  readonly failures: number;
  readonly retryAt: number;
}

/** A dictionary larger than the whole memory budget: it stays so until its files change. */
class OverBudgetError extends SaeError {}

interface Entry {
  /** The dictionary id, or HEAD_KEY + the head's folder id. */
  readonly id: string;
  /** Set for dictionaries. */
  readonly description?: DictionaryDescription;
  /** Set for dictionaries: what `describe` answers while loaded, without the store. */
  readonly summary?: DictionarySummary;
  /** Set for dictionaries. */
  readonly prepared?: Prepared;
  /** Set for model heads. */
  readonly head?: ModelHead;
  /** Set for aligned (multi-stream) dictionaries. */
  readonly aligned?: AlignedDictionary;
  readonly bytes: number;
  users: number;
  lastUsed: number;
}

/** A loaded model head held by one request; call `release` when done. */
export interface HeadLease {
  readonly id: string;
  readonly head: ModelHead;
  release(): void;
}

/** Prefix of model heads' keys; the NUL keeps them apart from every valid dictionary id. */
const ALIGNED_KEY = "\u0000aligned:";
const HEAD_KEY = "\u0000head:";

/** Group store entries into folders that hold a known family's files. */
function folders(entries: { path: string; size: number }[]): Map<string, Map<string, number>> {
  const byFolder = new Map<string, Map<string, number>>();
  for (const e of entries) {
    const slash = e.path.lastIndexOf("/");
    if (slash <= 0) continue; // files at the root belong to no dictionary
    const dir = e.path.slice(0, slash);
    let files = byFolder.get(dir);
    if (!files) byFolder.set(dir, files = new Map());
    files.set(e.path.slice(slash + 1), e.size);
  }
  return byFolder;
}

/** The sha256 of each file that saeserve.json lists. */
function expectedHashes(sidecar: Record<string, unknown> | undefined): Map<string, string> {
  const out = new Map<string, string>();
  const hashes = sidecar?.sha256;
  if (hashes && typeof hashes === "object") {
    for (const [name, hex] of Object.entries(hashes)) {
      if (typeof hex === "string") out.set(name, hex.toLowerCase());
    }
  }
  return out;
}

/** Loads, caches and lends dictionaries from one store. */
export class Registry {
  readonly #store: Store;
  readonly #options: RegistryOptions;
  readonly #loaded = new Map<string, Entry>();
  readonly #loading = new Map<string, Promise<Entry>>();
  readonly #failures = new Map<string, Failure>();
  readonly #now: () => number;
  #clock = 0;
  readonly #loads: Counter;
  readonly #evictions: Counter;
  readonly #loadSeconds: Histogram;

  /** A registry over `store`. */
  constructor(store: Store, options: RegistryOptions) {
    this.#store = store;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const m = options.metrics;
    this.#loads = new Counter("saeserve_dictionary_loads_total", "Dictionary loads by result.");
    this.#evictions = new Counter(
      "saeserve_dictionary_evictions_total",
      "Dictionaries evicted by the LRU.",
    );
    this.#loadSeconds = new Histogram(
      "saeserve_dictionary_load_seconds",
      "Time to fetch, parse and prepare a dictionary.",
      [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    );
    m?.add(this.#loads);
    m?.add(this.#evictions);
    m?.add(this.#loadSeconds);
  }

  /** The store behind this registry. */
  get store(): Store {
    return this.#store;
  }

  /** Bytes held by loaded dictionaries. */
  get bytesLoaded(): number {
    let n = 0;
    for (const e of this.#loaded.values()) n += e.bytes;
    return n;
  }

  /** Number of loaded dictionaries. */
  get loadedCount(): number {
    return this.#loaded.size;
  }

  /** Whether `id` is loaded now. */
  isLoaded(id: string): boolean {
    return this.#loaded.has(id);
  }

  /** Every dictionary folder in the store, described (a folder that fails carries `error`). */
  async list(): Promise<DictionarySummary[]> {
    const groups = folders(await this.#store.list(""));
    const out: DictionarySummary[] = [];
    for (const [id, files] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
      const format = detectFormat(files.keys());
      if (!format) continue;
      out.push(await this.#summarize(id, format, files));
    }
    return out;
  }

  /** One dictionary, described; throws "not_found" when no known family's files are there. */
  async describe(id: string): Promise<DictionarySummary> {
    checkDictionaryId(id);
    // A loaded dictionary is described from memory, so it keeps serving while the store is down.
    const loaded = this.#loaded.get(id)?.summary;
    if (loaded) return loaded;
    const { format, files } = await this.#locate(id);
    const listing = listingOf(files);
    const failed = this.#recall(id, listing);
    if (failed?.kind === "broken") throw withRetryAfter(failed.error, failed.retryAt - this.#now());
    const summary = await this.#summarize(id, format, files);
    if (summary.error) {
      const error = new SaeError(
        "unavailable",
        `dictionary ${id} cannot be read: ${summary.error}`,
      );
      throw this.#remember(id, error, { kind: "broken", listing });
    }
    return summary;
  }

  async #summarize(
    id: string,
    format: FormatName,
    files: Map<string, number>,
  ): Promise<DictionarySummary> {
    const loaded = this.#loaded.get(id);
    // A broken dictionary backing off is listed with its error, without reading it again.
    const failed = loaded ? undefined : this.#recall(id, listingOf(files));
    if (failed?.kind === "broken") {
      return { id, format, loaded: false, error: (failed.error as Error).message };
    }
    const folder = this.#folder(id, files);
    let sidecar: Record<string, unknown> | undefined;
    try {
      if (files.has(SIDECAR)) sidecar = await readJsonObject(folder, SIDECAR);
      const description = loaded?.description ?? await describeFolder(format, folder);
      return { id, format, loaded: !!loaded, description, sidecar };
    } catch (e) {
      if (e instanceof SaeError && e.kind === "unavailable") throw e;
      return { id, format, loaded: !!loaded, error: (e as Error).message, sidecar };
    }
  }

  /** The files directly inside the store folder `id`, with their sizes. */
  async #filesOf(id: string): Promise<Map<string, number>> {
    const files = new Map<string, number>();
    for (const e of await this.#store.list(id + "/")) {
      const rest = e.path.slice(id.length + 1);
      if (!rest.includes("/")) files.set(rest, e.size);
    }
    return files;
  }

  /** Keep a freshly loaded entry (no users yet, most recently used) and evict others to fit. */
  #admit(fields: Omit<Entry, "users" | "lastUsed">): Entry {
    const entry: Entry = { ...fields, users: 0, lastUsed: ++this.#clock };
    this.#loaded.set(entry.id, entry);
    this.#evict(entry.id);
    return entry;
  }

  async #locate(id: string): Promise<{ format: FormatName; files: Map<string, number> }> {
    checkDictionaryId(id);
    const files = await this.#filesOf(id);
    return { format: formatOf(id, files), files };
  }

  #folder(
    id: string,
    files: Map<string, number>,
    hashed?: Map<string, ReturnType<typeof hashingSource>>,
  ): Folder {
    return {
      files,
      open: async (name: string): Promise<ByteSource> => {
        if (!files.has(name)) throw new SaeError("not_found", `${id}/${name} is missing`);
        const source = await this.#store.open(`${id}/${name}`);
        if (!hashed) return source;
        const h = hashingSource(source);
        hashed.set(name, h);
        return h.source;
      },
    };
  }

  /** Borrow a loaded dictionary, loading it first if needed. */
  async acquire(id: string): Promise<Lease> {
    checkDictionaryId(id);
    const entry = await this.#borrow(id, { folder: id, load: (files) => this.#load(id, files) });
    const e = entry;
    let released = false;
    return {
      id,
      description: e.description!,
      prepared: e.prepared!,
      release: () => {
        if (released) return;
        released = true;
        e.users--;
        this.#evict();
      },
    };
  }

  /**
   * Borrow a model head (a folder with head.safetensors and head.json), loading it first if
   * needed; heads share the dictionaries' memory budget and LRU.
   */
  async acquireHead(id: string): Promise<HeadLease> {
    checkDictionaryId(id);
    const e = await this.#borrow(HEAD_KEY + id, {
      folder: id,
      load: (files) => this.#loadHeadEntry(id, files),
    });
    let released = false;
    return {
      id,
      head: e.head!,
      release: () => {
        if (released) return;
        released = true;
        e.users--;
        this.#evict();
      },
    };
  }

  /** Borrow an aligned dictionary (saeserve.json kind "aligned" + aligned.safetensors). */
  async acquireAligned(
    id: string,
  ): Promise<{ id: string; aligned: AlignedDictionary; release(): void }> {
    checkDictionaryId(id);
    const e = await this.#borrow(ALIGNED_KEY + id, {
      folder: id,
      load: (files) => this.#loadAlignedEntry(id, files),
    });
    let released = false;
    return {
      id,
      aligned: e.aligned!,
      release: () => {
        if (released) return;
        released = true;
        e.users--;
        this.#evict();
      },
    };
  }

  async #loadAlignedEntry(id: string, files: Map<string, number>): Promise<Entry> {
    if (!files.has(ALIGNED_FILE) || !files.has(SIDECAR)) {
      throw new SaeError("not_found", `no aligned dictionary ${JSON.stringify(id)} in the store`);
    }
    try {
      const folder = this.#folder(id, files);
      const config = parseAlignedConfig(await readJsonObject(folder, SIDECAR));
      const aligned = await loadAligned(await folder.open(ALIGNED_FILE), config);
      const bytes = aligned.streams.reduce(
        (n, s) => n + 4 * (2 * s.d * aligned.latents + s.d + aligned.latents),
        0,
      );
      return this.#admit({ id: ALIGNED_KEY + id, aligned, bytes });
    } catch (e) {
      throw unreadable(`aligned dictionary ${id}`, e);
    }
  }

  async #loadHeadEntry(id: string, files: Map<string, number>): Promise<Entry> {
    if (!files.has(HEAD_FILES.weights) || !files.has(HEAD_FILES.config)) {
      throw new SaeError("not_found", `no model head ${JSON.stringify(id)} in the store`);
    }
    try {
      const head = await loadHead(this.#folder(id, files));
      return this.#admit({ id: HEAD_KEY + id, head, bytes: headBytes(head) });
    } catch (e) {
      throw unreadable(`model head ${id}`, e);
    }
  }

  /** The loaded entry under `key`, loading it once however many requests wait; counts a user. */
  async #borrow(
    key: string,
    how: { folder: string; load: (files: Map<string, number>) => Promise<Entry> },
  ): Promise<Entry> {
    let entry = this.#loaded.get(key);
    if (!entry) {
      let pending = this.#loading.get(key);
      if (!pending) {
        pending = this.#loadOrRecall(key, how).finally(() => this.#loading.delete(key));
        this.#loading.set(key, pending);
      }
      entry = await pending;
    }
    entry.users++;
    entry.lastUsed = ++this.#clock;
    return entry;
  }

  /**
   * List the folder, then load it, unless an earlier load of the same listing failed and its
   * retry time has not come: then throw that failure again. Failures are remembered here.
   */
  async #loadOrRecall(
    key: string,
    how: { folder: string; load: (files: Map<string, number>) => Promise<Entry> },
  ): Promise<Entry> {
    const files = await this.#filesOf(how.folder);
    const listing = listingOf(files);
    const failed = this.#recall(key, listing);
    if (failed) throw withRetryAfter(failed.error, failed.retryAt - this.#now());
    try {
      const entry = await how.load(files);
      this.#failures.delete(key);
      return entry;
    } catch (error) {
      const kind = failureKind(error);
      if (!kind) {
        this.#failures.delete(key);
        throw error;
      }
      // A store error while the store cannot even list the folder ends when it lists again.
      const seen = kind === "transient"
        ? await this.#filesOf(how.folder).then(listingOf, () => null)
        : listing;
      throw this.#remember(key, error, { kind, listing: seen });
    }
  }

  /** The failure remembered under `key` if it is for this `listing` and still backing off. */
  #recall(key: string, listing: string): Failure | undefined {
    const failed = this.#failures.get(key);
    return failed?.listing === listing && this.#now() < failed.retryAt ? failed : undefined;
  }

  /**
   * Remember a failure under `key` (its backoff doubles when the previous failure saw the same
   * listing, and starts over otherwise); returns the error to throw, with `retry_after`.
   */
  #remember(
    key: string,
    error: unknown,
    seen: { kind: "broken" | "transient"; listing: string | null },
  ): unknown {
    const { kind, listing } = seen;
    const before = this.#failures.get(key);
    const failures = before?.listing === listing ? before.failures + 1 : 1;
    const { firstMs, maxMs } = this.#options.backoff?.[kind] ??
      (kind === "broken" ? BROKEN_BACKOFF : TRANSIENT_BACKOFF);
    const delay = Math.min(maxMs, firstMs * 2 ** Math.min(failures - 1, 30));
    this.#failures.set(key, { error, kind, listing, failures, retryAt: this.#now() + delay });
    return withRetryAfter(error, delay);
  }

  async #load(id: string, files: Map<string, number>): Promise<Entry> {
    const started = performance.now();
    let arena: MatrixArena | undefined;
    try {
      const format = formatOf(id, files);
      const description = await describeFolder(format, this.#folder(id, files));
      if (description.weightBytes > this.#options.memoryBudget) {
        throw new OverBudgetError(
          "unavailable",
          `dictionary ${id} needs ${description.weightBytes} bytes, over the memory budget of ${this.#options.memoryBudget}`,
        );
      }
      const sidecar = files.has(SIDECAR)
        ? await readJsonObject(this.#folder(id, files), SIDECAR)
        : undefined;
      const expected = expectedHashes(sidecar);
      const hashed = new Map<string, ReturnType<typeof hashingSource>>();
      // Large matrices stream straight into the backend's memory when it offers an arena.
      arena = this.#options.backend.arena?.();
      const weights = await loadFolder(
        format,
        this.#folder(id, files, expected.size ? hashed : undefined),
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
      const prepared = await this.#options.backend.prepare(weights);
      this.#loads.inc({ result: "ok" });
      this.#loadSeconds.observe((performance.now() - started) / 1000);
      return this.#admit({
        id,
        description,
        summary: { id, format, loaded: true, description, sidecar },
        prepared,
        bytes: weightBytes(weights) + prepared.extraBytes,
      });
    } catch (e) {
      this.#loads.inc({ result: e instanceof SaeError ? e.kind : "error" });
      throw unreadable(`dictionary ${id}`, e);
    } finally {
      arena?.dispose();
    }
  }

  /** Evict idle dictionaries, least recently used first, until under budget. `keep` is spared. */
  #evict(keep?: string): void {
    let total = this.bytesLoaded;
    if (total <= this.#options.memoryBudget) return;
    const idle = [...this.#loaded.values()]
      .filter((e) => e.users === 0 && e.id !== keep)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    for (const e of idle) {
      if (total <= this.#options.memoryBudget) break;
      this.#loaded.delete(e.id);
      if (e.prepared) this.#options.backend.release(e.prepared);
      total -= e.bytes;
      this.#evictions.inc();
    }
  }

  /** Drop every loaded dictionary and every remembered failure (used at shutdown). */
  close(): void {
    for (const e of this.#loaded.values()) {
      if (e.prepared) this.#options.backend.release(e.prepared);
    }
    this.#loaded.clear();
    this.#failures.clear();
  }
}

/** The family of the files in folder `id`; "not_found" when no known family's files are there. */
function formatOf(id: string, files: Map<string, number>): FormatName {
  const format = detectFormat(files.keys());
  if (!format) {
    throw new SaeError("not_found", `no dictionary ${JSON.stringify(id)} in the store`);
  }
  return format;
}

/** A folder listing (names and sizes) as one comparable string. */
function listingOf(files: Map<string, number>): string {
  return JSON.stringify([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * How a failed load backs off: "broken" files (format and integrity errors, anything
 * unexpected, a dictionary over the budget), "transient" store or backend errors, or null
 * (not remembered: a missing dictionary or file).
 */
function failureKind(error: unknown): "broken" | "transient" | null {
  if (!(error instanceof SaeError)) return "broken";
  if (error.kind === "not_found") return null;
  const transient = error.kind === "unavailable" && !(error instanceof OverBudgetError) &&
    !(error.cause instanceof FormatError);
  return transient ? "transient" : "broken";
}

/** `error` again, with `retry_after` (whole seconds) when it is a 503. */
function withRetryAfter(error: unknown, delayMs: number): unknown {
  if (
    !(error instanceof SaeError) || (error.kind !== "unavailable" && error.kind !== "integrity")
  ) {
    return error;
  }
  return new SaeError(error.kind, error.message, {
    cause: error,
    info: { ...error.info, retry_after: Math.max(1, Math.ceil(delayMs / 1000)) },
  });
}

/** A broken file in the store is the server's problem, never a client's bad request. */
function unreadable(what: string, e: unknown): unknown {
  return e instanceof FormatError
    ? new SaeError("unavailable", `${what} cannot be read: ${e.message}`, { cause: e })
    : e;
}
