/**
 * Gemma Scope folders that are not quite right: the loader's message names what is misshapen.
 * @module
 */

import assert from "node:assert/strict";
import { FormatError } from "../errors.ts";
import { bytesSource } from "../io/byte_source.ts";
import { encodeNpz, loadNpzArray, type NpzArray, readNpzDirectory } from "../io/npz.ts";
import { loadFolder } from "./mod.ts";
import { fixtureFiles, memoryFolder } from "../../tests/memory_folder.ts";

Deno.test("gemma scope: a transposed W_enc is named as such, not as a bias's length", async () => {
  const files = fixtureFiles("gemma_scope");
  const source = bytesSource(files["params.npz"]);
  const members = await readNpzDirectory(source);
  const arrays: Record<string, NpzArray> = {};
  for (const [name, entry] of members) {
    const t = await loadNpzArray(source, entry);
    arrays[name.replace(/\.npy$/, "")] = { shape: [...t.shape], data: t.data };
  }
  const w = arrays.W_enc;
  const [rows, cols] = w.shape;
  const transposed = new Float32Array(w.data.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) transposed[c * rows + r] = w.data[r * cols + c];
  }
  arrays.W_enc = { shape: [cols, rows], data: transposed };
  files["params.npz"] = await encodeNpz(arrays);
  await assert.rejects(
    loadFolder("gemma_scope", memoryFolder(files)),
    (e: Error) =>
      e instanceof FormatError &&
      new RegExp(`W_enc is \\[${cols}, ${rows}\\] and W_dec \\[${cols}, ${rows}\\]: .*transposed`)
        .test(e.message),
  );
});
