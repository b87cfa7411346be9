/**
 * Dictionary folders in memory for the family loaders' tests: a fixture's files, some replaced.
 * @module
 */

import { bytesSource } from "../domain/io/byte_source.ts";
import type { Folder } from "../domain/families/mod.ts";

const DICTS = new URL("./fixtures/dicts/", import.meta.url);

/** A folder over in-memory files. */
export function memoryFolder(files: Record<string, Uint8Array>): Folder {
  return {
    files: new Map(Object.entries(files).map(([n, b]) => [n, b.byteLength])),
    open: (name) => Promise.resolve(bytesSource(files[name])),
  };
}

/** The files of fixture dictionary `name` (tests/fixtures/dicts), some replaced or added. */
export function fixtureFiles(
  name: string,
  replace: Record<string, Uint8Array | string> = {},
): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const e of Deno.readDirSync(new URL(`${name}/`, DICTS))) {
    out[e.name] = Deno.readFileSync(new URL(`${name}/${e.name}`, DICTS));
  }
  for (const [n, v] of Object.entries(replace)) {
    out[n] = typeof v === "string" ? new TextEncoder().encode(v) : v;
  }
  return out;
}
