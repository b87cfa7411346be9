/**
 * storeFolder hands the dictionary id to the domain as the folder's path: a Gemma Scope folder
 * whose id contains `embedding` loads scaled like SAELens, with no saeserve.json needed.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { referenceBackend } from "../../backends/reference/mod.ts";
import { matrix } from "../../domain/sae/matrix.ts";
import { encodeRows } from "../../domain/sae/sae.ts";
import { seededRandom } from "../../domain/random.ts";
import { Registry } from "../registry.ts";
import { fileStore } from "../store/file.ts";
import { FIXTURE_DICTS } from "../../tests/helpers.ts";
import { filesOf, storeFolder } from "./store_folder.ts";

const PARAMS = Deno.readFileSync(join(FIXTURE_DICTS, "gemma_scope_embedding", "params.npz"));
const SIDECAR = Deno.readFileSync(join(FIXTURE_DICTS, "gemma_scope_embedding", "saeserve.json"));
const EMBEDDING = "gemma-scope-2b-pt-res/embedding/width_4k/average_l0_6";
const LAYER = "gemma-scope-2b-pt-res/layer_3/width_4k/average_l0_6";

Deno.test("storeFolder: the folder's path is the dictionary id", async () => {
  const store = fileStore(FIXTURE_DICTS);
  const files = await filesOf(store, "gemma_scope_embedding");
  assert.equal(
    storeFolder(store, "gemma_scope_embedding", { files }).path,
    "gemma_scope_embedding",
  );
});

Deno.test("storeFolder: a Gemma Scope id containing 'embedding' loads scaled, as the saeserve.json flag does", async () => {
  const root = await Deno.makeTempDir({ prefix: "saeserve-store-folder-" });
  const backend = referenceBackend();
  const registry = new Registry(fileStore(root), { backend, memoryBudget: 1 << 28 });
  try {
    // The fixture with its stand-in flag, and copies without it under two ids.
    await Deno.mkdir(join(root, "flagged"));
    await Deno.writeFile(join(root, "flagged", "params.npz"), PARAMS);
    await Deno.writeFile(join(root, "flagged", "saeserve.json"), SIDECAR);
    for (const id of [EMBEDDING, LAYER]) {
      await Deno.mkdir(join(root, id), { recursive: true });
      await Deno.writeFile(join(root, id, "params.npz"), PARAMS);
    }
    const numbers = async (id: string): Promise<number[][]> => {
      const lease = await registry.acquire(id);
      try {
        const d = lease.description.dIn;
        const uniform = seededRandom(5);
        const x = matrix([3, d], Float32Array.from({ length: 3 * d }, () => uniform() * 4 - 2));
        const out = await encodeRows({ backend, prepared: lease.prepared }, x, {
          include: new Set(["reconstruction"]),
        });
        return [...out.codes.values.map((v) => [...v]), [...out.reconstruction!.data]];
      } finally {
        lease.release();
      }
    };
    // Codes and reconstruction of the same rows.
    const flagged = await numbers("flagged");
    const byPath = await numbers(EMBEDDING);
    const raw = await numbers(LAYER);
    assert.deepEqual(byPath, flagged);
    assert.notDeepEqual(raw, flagged);
  } finally {
    registry.close();
    await Deno.remove(root, { recursive: true });
  }
});
