/**
 * A store for the registry's tests: counts its opens and listings and can be made to fail
 * them; and a fixture dictionary copied into a folder, its weights cut short on demand.
 * @module
 */

import { join } from "node:path";
import type { ByteSource } from "../domain/io/byte_source.ts";
import { SaeError } from "../domain/errors.ts";
import type { Store, StoreEntry } from "../service/store/mod.ts";
import { FIXTURE_DICTS } from "./helpers.ts";

/** A store that counts opens and can be made to fail its opens or listings. */
export interface Probe extends Store {
  opens: number;
  lists: number;
  failOpen: boolean;
  failList: boolean;
}

/** `store` wrapped in a {@link Probe}. */
export function probe(store: Store): Probe {
  const down = (): SaeError => new SaeError("unavailable", "the test store is down");
  const p: Probe = {
    opens: 0,
    lists: 0,
    failOpen: false,
    failList: false,
    describe: store.describe,
    list(prefix: string): Promise<StoreEntry[]> {
      p.lists++;
      return p.failList ? Promise.reject(down()) : store.list(prefix);
    },
    ping: (): Promise<void> => store.ping(),
    open(path: string): Promise<ByteSource> {
      p.opens++;
      return p.failOpen ? Promise.reject(down()) : store.open(path);
    },
  };
  return p;
}

/** Copy fixture dictionary `id` into folder `root/id`. */
export async function copyFixture(root: string, id: string): Promise<void> {
  await Deno.mkdir(join(root, id));
  for await (const e of Deno.readDir(join(FIXTURE_DICTS, id))) {
    if (e.isFile) await Deno.copyFile(join(FIXTURE_DICTS, id, e.name), join(root, id, e.name));
  }
}

/** Truncate the weights file to `bytes` (the header stays; the tensors end early). */
export async function truncateWeights(
  root: string,
  options: { id: string; bytes: number },
): Promise<Uint8Array> {
  const path = join(root, options.id, "sae_weights.safetensors");
  const original = await Deno.readFile(path);
  await Deno.writeFile(path, original.subarray(0, options.bytes));
  return original;
}
