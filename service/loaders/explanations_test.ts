import assert from "node:assert/strict";
import { referenceBackend } from "../../backends/reference/mod.ts";
import { Registry } from "../registry.ts";
import { fileStore } from "../store/file.ts";
import { parseExplanations } from "../../domain/features/explanations.ts";
import { indexExplanations } from "../../domain/features/search.ts";
import { generateExplanations } from "../../domain/features/search_corpus.ts";

const DEMO_TOPK = new URL("../../dictionaries/demo-topk", import.meta.url).pathname;

/** A store holding demo-topk's weights as `id`, with `extra` files beside them. */
async function storeWith(files: Record<string, string | Uint8Array>): Promise<string> {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/d`);
  for (const name of ["cfg.json", "sae_weights.safetensors"]) {
    await Deno.copyFile(`${DEMO_TOPK}/${name}`, `${root}/d/${name}`);
  }
  for (const [name, body] of Object.entries(files)) {
    if (typeof body === "string") await Deno.writeTextFile(`${root}/d/${name}`, body);
    else await Deno.writeFile(`${root}/d/${name}`, body);
  }
  return root;
}

function registryOver(root: string): Registry {
  return new Registry(fileStore(root), { backend: referenceBackend(), memoryBudget: 1 << 30 });
}

Deno.test("bad entries are warnings in the description; the dictionary still loads", async () => {
  const root = await storeWith({
    "explanations.jsonl": '{"feature": 3, "text": "rain"}\n{oops\n{"feature": 999, "text": "x"}\n',
  });
  const registry = registryOver(root);
  try {
    const summary = await registry.describe("d");
    assert.equal(summary.error, undefined);
    assert.equal(summary.explanations?.count, 1);
    assert.equal(summary.explanations?.features, 1);
    assert.deepEqual(summary.explanations?.warnings, [
      "explanations.jsonl: line 2: not valid JSON",
      "explanations.jsonl: line 3: feature 999 is outside [0, 256)",
    ]);
    const lease = await registry.acquire("d");
    lease.release();
    // Loaded, it is described from memory with the same summary.
    assert.deepEqual((await registry.describe("d")).explanations, summary.explanations);
    const found = await registry.acquireExplanations("d");
    assert.deepEqual(found.index.search("rain", { top: 3 }).map((h) => h.feature), [3]);
    found.release();
  } finally {
    registry.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an unreadable .gz is a warning; cfg.json's neuronpedia_id gives links", async () => {
  const root = await storeWith({ "explanations.json.gz": new Uint8Array([1, 2, 3]) });
  const registry = registryOver(root);
  try {
    const summary = await registry.describe("d");
    assert.equal(summary.error, undefined);
    assert.equal(summary.explanations?.count, 0);
    assert.match(summary.explanations!.warnings[0], /^explanations\.json\.gz: not read/);
  } finally {
    registry.close();
    await Deno.remove(root, { recursive: true });
  }
  const cfg = JSON.parse(await Deno.readTextFile(`${DEMO_TOPK}/cfg.json`));
  const linked = await storeWith({
    "explanations.json": JSON.stringify([{ index: "5", description: "cats" }]),
  });
  await Deno.writeTextFile(
    `${linked}/d/cfg.json`,
    JSON.stringify({ ...cfg, neuronpedia_id: "gemma-2-2b/20-gemmascope-res-16k" }),
  );
  const again = registryOver(linked);
  try {
    const lease = await again.acquireExplanations("d");
    assert.equal(lease.set.neuronpediaId, "gemma-2-2b/20-gemmascope-res-16k");
    lease.release();
    // A folder without a dictionary has no explanations either.
    await assert.rejects(again.acquireExplanations("nothing"), /no dictionary/);
  } finally {
    again.close();
    await Deno.remove(linked, { recursive: true });
  }
});

Deno.test("a dictionary without an explanations file is described as before", async () => {
  const root = await storeWith({});
  const registry = registryOver(root);
  try {
    assert.equal((await registry.describe("d")).explanations, undefined);
    const lease = await registry.acquireExplanations("d");
    assert.equal(lease.set.count, 0);
    lease.release();
  } finally {
    registry.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("while 50k explanations load, the event loop keeps turning", async () => {
  const size = 50_000;
  const { jsonl, vocabulary } = generateExplanations(size, { seed: 4 });
  const root = await storeWith({ "explanations.jsonl": jsonl });
  // demo-topk has 256 features: say 50k in its cfg.json.
  const cfg = JSON.parse(await Deno.readTextFile(`${root}/d/cfg.json`));
  await Deno.writeTextFile(`${root}/d/cfg.json`, JSON.stringify({ ...cfg, d_sae: size }));
  const registry = registryOver(root);
  let last = performance.now();
  let longest = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    ticks++;
  }, 5);
  try {
    await new Promise((resolve) => setTimeout(resolve, 20));
    longest = 0;
    const lease = await registry.acquireExplanations("d");
    clearInterval(timer);
    longest = Math.max(longest, performance.now() - last); // a stall at the very end
    // Indexed at once, the same explanations take over a second here (one stall); in slices
    // the longest gap is a garbage collection's pause, tens of milliseconds.
    assert.ok(longest < 250, `the event loop stalled for ${longest.toFixed(0)} ms`);
    assert.ok(ticks > 20, `${ticks} ticks`);
    assert.equal(lease.set.count, size);
    const reference = indexExplanations(parseExplanations(jsonl, { file: "e", dSae: size }));
    for (const q of [...vocabulary.slice(0, 5), vocabulary[100].slice(0, 4)]) {
      assert.deepEqual(lease.index.search(q, { top: 50 }), reference.search(q, { top: 50 }), q);
    }
    lease.release();
  } finally {
    clearInterval(timer);
    registry.close();
    await Deno.remove(root, { recursive: true });
  }
});
