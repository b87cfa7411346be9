/**
 * A dictionary folder as the format loaders see it: the names and sizes of its files, and a
 * way to open each. Loaders never see the store behind it.
 * @module
 */

import type { ByteSource } from "../io/byte_source.ts";
import { readRange } from "../io/byte_source.ts";
import { FormatError } from "../errors.ts";

/** The files of one dictionary folder. */
export interface Folder {
  /** File name (relative to the folder) -> size in bytes. */
  readonly files: ReadonlyMap<string, number>;
  /** Open one file of the folder for ranged reads. */
  open(name: string): Promise<ByteSource>;
  /**
   * Where the folder sits in its store (the dictionary id, e.g. `gemma-scope-2b-pt-res/embedding/
   * width_4k/average_l0_6`), when the caller knows it. Only Gemma Scope reads it: SAELens scales
   * the weights of Gemma Scope folders whose path contains `embedding`.
   */
  readonly path?: string;
}

/** Largest JSON config a loader will read (cfg.json, saeserve.json). */
export const MAX_CONFIG_BYTES = 1 << 20;

/** Read and parse a JSON file of the folder (at most `maxBytes`, default MAX_CONFIG_BYTES). */
export async function readJsonFile(
  folder: Folder,
  name: string,
  options?: { maxBytes?: number },
): Promise<unknown> {
  const max = options?.maxBytes ?? MAX_CONFIG_BYTES;
  const size = folder.files.get(name);
  if (size === undefined) throw new FormatError(name, "missing");
  if (size > max) throw new FormatError(name, `larger than ${max} bytes`);
  const source = await folder.open(name);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(
      await readRange(source, { offset: 0, length: source.size }),
    );
  } catch (e) {
    if (e instanceof FormatError || (e as Error).name === "SaeError") throw e;
    throw new FormatError(name, "not valid UTF-8");
  }
  try {
    return JSON.parse(pythonJsonToJson(text));
  } catch (e) {
    throw new FormatError(name, `not valid JSON: ${(e as Error).message}`);
  }
}

/** Read and parse a small JSON object file of the folder. */
export async function readJsonObject(
  folder: Folder,
  name: string,
): Promise<Record<string, unknown>> {
  const value = await readJsonFile(folder, name);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FormatError(name, "not a JSON object");
  }
  return value as Record<string, unknown>;
}

/**
 * Python's json module writes NaN, Infinity and -Infinity as bare words, which JSON.parse
 * refuses; configs written by torch libraries sometimes hold them. Replace those words outside
 * strings with null.
 */
export function pythonJsonToJson(text: string): string {
  return text.replace(
    /"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g,
    (token) => (token.startsWith('"') ? token : "null"),
  );
}
