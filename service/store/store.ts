/**
 * The store interface every scheme implements (file, s3, http, hf; opened by `mod.ts`).
 * @module
 */

import type { ByteSource } from "../../domain/io/byte_source.ts";

/** One object in a store, with its path relative to the store's root. */
export interface StoreEntry {
  /** Relative path with `/` separators, no leading slash, e.g. `demo-topk/cfg.json`. */
  readonly path: string;
  /** Size in bytes. */
  readonly size: number;
}

/** A read-mostly object store rooted at a prefix. */
export interface Store {
  /** The store's address with any credentials removed, safe to log and show. */
  readonly describe: string;
  /** Every object under `prefix` (relative; "" for all), recursively. */
  list(prefix: string): Promise<StoreEntry[]>;
  /**
   * Open one object for ranged, streaming reads. Throws SaeError "not_found" when absent,
   * "unavailable" when the store cannot be reached.
   */
  open(path: string): Promise<ByteSource>;
  /** Resolve when the store is reachable; throw SaeError "unavailable" otherwise. */
  ping(): Promise<void>;
  /** Write one object (absent on read-only stores: https, hf). */
  put?(path: string, body: Uint8Array): Promise<void>;
}
