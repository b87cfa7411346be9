/**
 * Where the training CLIs read and write: a local path or a store URL (`s3://bucket/dir`,
 * `https://...`) as a store and a path inside it, and the result folder, checked before any
 * training so a run cannot end in a failed write.
 * @module
 */

import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { SAELENS_FILES } from "../domain/families/saelens.ts";
import { SPARSIFY_FILES } from "../domain/families/sparsify.ts";
import { SIDECAR } from "../service/loaders/store_folder.ts";
import { openStore, type Store } from "../service/store/mod.ts";
import { CliError } from "./run.ts";

/** Whether `target` names a store by URL (a `file://` URL is a local path). */
function isStoreUrl(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(target) && !target.startsWith("file://");
}

/** A store and a path inside it for a local path or a store URL (`s3://b/dir/x.npy`, ...). */
export function locate(
  target: string,
  env: Record<string, string | undefined>,
): { store: Store; path: string } {
  const local = target.startsWith("file://") ? decodeURIComponent(target.slice(7)) : target;
  if (!isStoreUrl(target)) {
    const abs = resolve(local);
    const file = /\.(npy|safetensors)$/.test(abs);
    const root = file ? abs.slice(0, abs.lastIndexOf("/")) || "/" : abs;
    return { store: openStore(root, env), path: file ? abs.slice(abs.lastIndexOf("/") + 1) : "" };
  }
  const url = new URL(target);
  const parts = url.pathname.split("/").filter((p) => p !== "");
  // The bucket / host is the store; the path inside it is handed to the row reader.
  const root = `${url.protocol}//${url.host}`;
  return { store: openStore(root, env), path: parts.join("/") };
}

/** The local path of `out` (a path or a file:// URL). */
function localPath(out: string): string {
  return resolve(out.replace(/^file:\/\//, ""));
}

/** A result folder: checked when opened, written once at the end. */
export interface OutputFolder {
  /** Write `files` (name -> bytes) into the folder. */
  write(files: ReadonlyMap<string, Uint8Array>): Promise<void>;
}

/**
 * Open `out` for the result files before any work: a store URL must take writes, a local folder
 * is created now. A CliError naming `options.flag` (default `--out`) when it cannot be.
 */
export async function outputFolder(
  out: string,
  options: { env: Record<string, string | undefined>; flag?: string },
): Promise<OutputFolder> {
  const flag = options.flag ?? "--out";
  if (isStoreUrl(out)) {
    const { store, path } = locate(out, options.env);
    const put = store.put?.bind(store);
    if (!put) throw new CliError(`${flag} ${out}: ${store.describe} is read-only`);
    return {
      async write(files) {
        for (const [name, bytes] of files) await put(path ? `${path}/${name}` : name, bytes);
      },
    };
  }
  const dir = localPath(out);
  await Deno.mkdir(dir, { recursive: true }).catch((e) => {
    throw new CliError(`${flag} ${out}: cannot create it (${(e as Error).message})`);
  });
  return {
    async write(files) {
      await Deno.mkdir(dir, { recursive: true });
      for (const [name, bytes] of files) await Deno.writeFile(`${dir}/${name}`, bytes);
    },
  };
}

/** Files that make a folder a dictionary (a SAELens or sparsify folder, or saeserve's sidecar). */
const DICTIONARY_FILES = [...new Set([...SAELENS_FILES, ...SPARSIFY_FILES, SIDECAR])];

/** The dictionary files local folder `out` already holds (none for a store URL or a new folder). */
export async function dictionaryFilesIn(out: string): Promise<string[]> {
  if (isStoreUrl(out)) return [];
  const dir = localPath(out);
  const held: string[] = [];
  for (const name of DICTIONARY_FILES) {
    if (await Deno.stat(`${dir}/${name}`).then((i) => i.isFile, () => false)) held.push(name);
  }
  return held;
}

/**
 * After files were replaced in local folder `out`: a saeserve.json listing sha256 hashes gets
 * the new files' hashes (the old ones would make every later load fail its check). Returns the
 * names whose hash it updated.
 */
export async function refreshHashes(
  out: string,
  files: ReadonlyMap<string, Uint8Array>,
): Promise<string[]> {
  if (isStoreUrl(out)) return [];
  const path = `${localPath(out)}/${SIDECAR}`;
  const sidecar = await Deno.readTextFile(path).then((t) => JSON.parse(t), () => null);
  const hashes = sidecar?.sha256;
  if (!hashes || typeof hashes !== "object") return [];
  const updated: string[] = [];
  for (const [name, bytes] of files) {
    if (!(name in hashes)) continue;
    hashes[name] = createHash("sha256").update(bytes).digest("hex");
    updated.push(name);
  }
  if (updated.length) await Deno.writeTextFile(path, JSON.stringify(sidecar, null, 2) + "\n");
  return updated;
}
