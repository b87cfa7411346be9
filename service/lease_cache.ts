/**
 * A generic cache of loaded things under a byte budget: each key loads once however many
 * callers wait for it, a caller holds what it borrowed through a lease (a leased entry is
 * never evicted), idle entries beyond the budget go least recently used first, and a failed
 * load is remembered with exponential backoff until its retry time or until the source it
 * read changes (a different `version`).
 *
 * What a key means, how a value is loaded, how failures are classified and how a remembered
 * error is shown to the caller are the user's business: see {@link Loader} and
 * {@link LeaseCacheOptions}.
 * @module
 */

/** First delay and longest delay of one failure class's backoff, in ms. */
export interface Backoff {
  readonly firstMs: number;
  readonly maxMs: number;
}

/** How a failed load backs off: "broken" sources or "transient" trouble reading them. */
export type FailureKind = "broken" | "transient";

/** A loaded value and the bytes it holds against the budget. */
export interface Loaded<V> {
  readonly value: V;
  readonly bytes: number;
}

/** What a load would read now: the loader's own `state` and a comparable `version` of it. */
export interface Look<S> {
  readonly state: S;
  readonly version: string;
}

/** How to load one key: look at its source first, then load what was seen. */
export interface Loader<V, S> {
  /** Look at the source (e.g. list a folder); a failure here is thrown and not remembered. */
  look(): Promise<Look<S>>;
  /** Load the value from what `look` saw. */
  load(state: S): Promise<Loaded<V>>;
}

/** A value held by one caller; `release` (idempotent) lets it be evicted again. */
export interface CacheLease<V> {
  readonly value: V;
  release(): void;
}

/** A failure remembered and still backing off, as the caller should see it now. */
export interface Recalled {
  readonly kind: FailureKind;
  /** The remembered error passed through `annotate` with the time left. */
  readonly error: unknown;
}

/** Lease cache settings. */
export interface LeaseCacheOptions<K, V> {
  /** Bytes of loaded values to keep; idle ones beyond that are evicted, LRU first. */
  readonly budget: number;
  /** A string that tells keys apart (keys are compared by it). */
  readonly keyOf: (key: K) => string;
  /** Retry delays per failure kind. */
  readonly backoff: Readonly<Record<FailureKind, Backoff>>;
  /** How a load error backs off, or null when it is not remembered. */
  readonly classify: (error: unknown) => FailureKind | null;
  /**
   * The error to throw for a remembered failure of `failure.kind` with `failure.delayMs` left;
   * default: as it was.
   */
  readonly annotate?: (error: unknown, failure: { delayMs: number; kind: FailureKind }) => unknown;
  /** Free what a value holds; called when it is evicted and at `clear`. */
  readonly dispose?: (value: V) => void;
  /** Called after each successful load (the registry collects the load's garbage). */
  readonly onLoaded?: (key: K) => void;
  /** Called after each eviction by the LRU (metrics). */
  readonly onEvict?: (key: K) => void;
  /** Clock in ms; default Date.now. */
  readonly now?: () => number;
}

interface Entry<K, V> {
  readonly key: K;
  readonly value: V;
  readonly bytes: number;
  users: number;
  lastUsed: number;
}

interface Failure {
  readonly error: unknown;
  readonly kind: FailureKind;
  /** The version the load saw; null when the source could not be looked at after it. */
  readonly version: string | null;
  readonly failures: number;
  readonly retryAt: number;
}

/** Loads, keeps and lends values by key under a byte budget. */
export class LeaseCache<K, V> {
  readonly #options: LeaseCacheOptions<K, V>;
  readonly #now: () => number;
  readonly #loaded = new Map<string, Entry<K, V>>();
  readonly #loading = new Map<string, Promise<Entry<K, V>>>();
  readonly #failures = new Map<string, Failure>();
  #clock = 0;

  /** An empty cache. */
  constructor(options: LeaseCacheOptions<K, V>) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Bytes held by loaded values. */
  get bytes(): number {
    let n = 0;
    for (const e of this.#loaded.values()) n += e.bytes;
    return n;
  }

  /** Number of loaded values. */
  get size(): number {
    return this.#loaded.size;
  }

  /** The value loaded under `key`, without counting a use; undefined when not loaded. */
  peek(key: K): V | undefined {
    return this.#loaded.get(this.#options.keyOf(key))?.value;
  }

  /** Borrow the value under `key`, loading it first (once for all waiting callers) if needed. */
  async borrow<S>(key: K, loader: Loader<V, S>): Promise<CacheLease<V>> {
    const k = this.#options.keyOf(key);
    let entry = this.#loaded.get(k);
    if (!entry) {
      let pending = this.#loading.get(k);
      if (!pending) {
        pending = this.#loadOrRecall(key, loader).finally(() => this.#loading.delete(k));
        this.#loading.set(k, pending);
      }
      entry = await pending;
    }
    entry.users++;
    entry.lastUsed = ++this.#clock;
    const e = entry;
    let released = false;
    return {
      value: e.value,
      release: () => {
        if (released) return;
        released = true;
        e.users--;
        this.#evict();
      },
    };
  }

  /** The failure remembered under `key` if it saw this `version` and is still backing off. */
  recall(key: K, version: string): Recalled | undefined {
    const failed = this.#failures.get(this.#options.keyOf(key));
    if (failed?.version !== version || this.#now() >= failed.retryAt) return undefined;
    return {
      kind: failed.kind,
      error: this.#annotate(failed.error, {
        delayMs: failed.retryAt - this.#now(),
        kind: failed.kind,
      }),
    };
  }

  /**
   * Remember a failure under `key` (its backoff doubles when the previous failure saw the same
   * version, and starts over otherwise); returns the error to throw, annotated with the delay.
   */
  remember(key: K, error: unknown, seen: { kind: FailureKind; version: string | null }): unknown {
    const k = this.#options.keyOf(key);
    const { kind, version } = seen;
    const before = this.#failures.get(k);
    const failures = before?.version === version ? before.failures + 1 : 1;
    const { firstMs, maxMs } = this.#options.backoff[kind];
    const delay = Math.min(maxMs, firstMs * 2 ** Math.min(failures - 1, 30));
    this.#failures.set(k, { error, kind, version, failures, retryAt: this.#now() + delay });
    return this.#annotate(error, { delayMs: delay, kind });
  }

  /** Drop every loaded value (disposing each) and every remembered failure. */
  clear(): void {
    for (const e of this.#loaded.values()) this.#options.dispose?.(e.value);
    this.#loaded.clear();
    this.#failures.clear();
  }

  /**
   * Look at the source, then load it, unless an earlier load of the same version failed and
   * its retry time has not come: then throw that failure again. Failures are remembered here.
   */
  async #loadOrRecall<S>(key: K, loader: Loader<V, S>): Promise<Entry<K, V>> {
    const k = this.#options.keyOf(key);
    const { state, version } = await loader.look();
    const failed = this.recall(key, version);
    if (failed) throw failed.error;
    let loaded: Loaded<V>;
    try {
      loaded = await loader.load(state);
    } catch (error) {
      const kind = this.#options.classify(error);
      if (!kind) {
        this.#failures.delete(k);
        throw error;
      }
      // Trouble reading a source that cannot even be looked at ends when it can be again.
      const seen = kind === "transient"
        ? await loader.look().then((l) => l.version, () => null)
        : version;
      throw this.remember(key, error, { kind, version: seen });
    }
    this.#failures.delete(k);
    // A load leaves its source arrays behind (a bf16 dictionary's f32 images): the owner may
    // collect them now.
    this.#options.onLoaded?.(key);
    return this.#admit(k, key, loaded);
  }

  /** Keep a freshly loaded entry (no users yet, most recently used) and evict others to fit. */
  #admit(k: string, key: K, loaded: Loaded<V>): Entry<K, V> {
    const entry: Entry<K, V> = { key, ...loaded, users: 0, lastUsed: ++this.#clock };
    this.#loaded.set(k, entry);
    this.#evict(entry);
    return entry;
  }

  /** Evict idle entries, least recently used first, until under budget; `keep` is spared. */
  #evict(keep?: Entry<K, V>): void {
    let total = this.bytes;
    if (total <= this.#options.budget) return;
    const idle = [...this.#loaded]
      .filter(([, e]) => e.users === 0 && e !== keep)
      .sort(([, a], [, b]) => a.lastUsed - b.lastUsed);
    for (const [k, e] of idle) {
      if (total <= this.#options.budget) break;
      this.#loaded.delete(k);
      this.#options.dispose?.(e.value);
      total -= e.bytes;
      this.#options.onEvict?.(e.key);
    }
  }

  #annotate(error: unknown, failure: { delayMs: number; kind: FailureKind }): unknown {
    return this.#options.annotate ? this.#options.annotate(error, failure) : error;
  }
}
