/**
 * Store folders as the loaders see them: the files directly inside one, a comparable
 * listing of them (a changed listing forgets a remembered failure), and a domain
 * {@link Folder} that opens them (optionally hashing what it reads).
 * @module
 */

import type { ByteSource } from "../../domain/io/byte_source.ts";
import { SaeError } from "../../domain/errors.ts";
import type { Folder } from "../../domain/families/mod.ts";
import { type HashingSource, hashingSource } from "../../domain/io/hashing_source.ts";
import type { Look } from "../lease_cache.ts";
import type { Store } from "../store/mod.ts";

/** The optional saeserve.json beside a dictionary's files. */
export const SIDECAR = "saeserve.json";

/** File name -> size of one store folder. */
export type FolderFiles = Map<string, number>;

/** Group store entries into folders (files at the root belong to none). */
export function folders(entries: { path: string; size: number }[]): Map<string, FolderFiles> {
  const byFolder = new Map<string, FolderFiles>();
  for (const e of entries) {
    const slash = e.path.lastIndexOf("/");
    if (slash <= 0) continue;
    const dir = e.path.slice(0, slash);
    let files = byFolder.get(dir);
    if (!files) byFolder.set(dir, files = new Map());
    files.set(e.path.slice(slash + 1), e.size);
  }
  return byFolder;
}

/** The files directly inside the store folder `id`, with their sizes. */
export async function filesOf(store: Store, id: string): Promise<FolderFiles> {
  const files = new Map<string, number>();
  for (const e of await store.list(id + "/")) {
    const rest = e.path.slice(id.length + 1);
    if (!rest.includes("/")) files.set(rest, e.size);
  }
  return files;
}

/** A folder listing (names and sizes) as one comparable string. */
export function listingOf(files: FolderFiles): string {
  return JSON.stringify([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** List folder `id`: its files as a loader's state, its listing as the version. */
export async function lookFolder(store: Store, id: string): Promise<Look<FolderFiles>> {
  const files = await filesOf(store, id);
  return { state: files, version: listingOf(files) };
}

/**
 * Folder `id` of `store` as the domain reads it, with `id` as its path (Gemma Scope's
 * `embedding` rule reads it); with `hashed`, each file opened is hashed as it is read and its
 * hasher recorded there by name.
 */
export function storeFolder(
  store: Store,
  id: string,
  options: { files: FolderFiles; hashed?: Map<string, HashingSource> },
): Folder {
  const { files, hashed } = options;
  return {
    files,
    path: id,
    open: async (name: string): Promise<ByteSource> => {
      if (!files.has(name)) throw new SaeError("not_found", `${id}/${name} is missing`);
      const source = await store.open(`${id}/${name}`);
      if (!hashed) return source;
      const h = hashingSource(source);
      hashed.set(name, h);
      return h.source;
    },
  };
}
