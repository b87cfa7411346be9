/**
 * SAELens folders that are not quite right: the loader's message names what is missing.
 * @module
 */

import assert from "node:assert/strict";
import { FormatError } from "../errors.ts";
import { bytesSource } from "../io/byte_source.ts";
import {
  encodeSafetensors,
  loadSafetensorsTensor,
  readSafetensorsHeader,
} from "../io/safetensors.ts";
import { loadFolder } from "./mod.ts";
import { fixtureFiles, memoryFolder } from "../../tests/memory_folder.ts";

Deno.test("saelens: a jumprelu file with neither threshold nor log_threshold names both", async () => {
  const files = fixtureFiles("saelens_jumprelu_edge");
  const source = bytesSource(files["sae_weights.safetensors"]);
  const header = await readSafetensorsHeader(source);
  const kept: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const name of ["W_enc", "W_dec", "b_enc", "b_dec"]) {
    const t = await loadSafetensorsTensor(source, { header, name });
    kept[name] = { shape: [...t.shape], data: t.data };
  }
  files["sae_weights.safetensors"] = encodeSafetensors(kept);
  await assert.rejects(
    loadFolder("saelens", memoryFolder(files)),
    (e: Error) =>
      e instanceof FormatError &&
      /missing tensor threshold \(or log_threshold\): a jumprelu SAE needs one/.test(e.message),
  );
});
