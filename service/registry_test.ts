/**
 * Failed dictionary loads are remembered with exponential backoff: a broken dictionary is not
 * re-read on every request (the same error, with retry_after, at the cost of one listing), a
 * changed folder listing or a successful load forgets the failure, store errors back off
 * briefly (and not at all once a store that could not list comes back), "not found" is never
 * remembered. Over a real file store on a temporary copy of fixture dictionaries, with a fake
 * clock.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { SaeError } from "../domain/errors.ts";
import { referenceBackend } from "../backends/reference/mod.ts";
import { Registry, type RegistryOptions } from "./registry.ts";
import { fileStore } from "./store/file.ts";
import type { Store } from "./store/mod.ts";
import { postJson, testApp } from "../tests/helpers.ts";
import { copyFixture, type Probe, probe, truncateWeights } from "../tests/probe_store.ts";
import { rejection } from "../tests/sae_errors.ts";

const ID = "saelens_standard";
const WEIGHTS = "sae_weights.safetensors";

async function withStore(
  body: (
    root: string,
    options: { store: Probe; registry: Registry; clock: { t: number } },
  ) => Promise<void>,
  options?: Partial<RegistryOptions>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "saeserve-backoff-" });
  await copyFixture(root, ID);
  const clock = { t: 1_000_000 };
  const store = probe(fileStore(root));
  const registry = new Registry(store, {
    backend: referenceBackend(),
    memoryBudget: 1 << 30,
    now: () => clock.t,
    ...options,
  });
  try {
    await body(root, { store, registry, clock });
  } finally {
    registry.close();
    await Deno.remove(root, { recursive: true });
  }
}

async function loads(registry: Registry): Promise<void> {
  const lease = await registry.acquire(ID);
  lease.release();
}

Deno.test("a broken dictionary is read once per backoff step: 1 s, 2 s, 4 s, with the same error", async () => {
  await withStore(async (root, { store, registry, clock }) => {
    const original = await Deno.readFile(join(root, ID, WEIGHTS));
    await truncateWeights(root, { id: ID, bytes: original.length - 64 });
    const first = await rejection(registry.acquire(ID));
    assert.equal(first.kind, "unavailable", first.message);
    assert.match(first.message, /cannot be read/);
    assert.equal(first.info?.retry_after, 1);
    const opened = store.opens;
    assert.ok(opened > 0);

    // Within the backoff: the same error, no file opened, one listing per request.
    for (let i = 0; i < 5; i++) {
      const lists = store.lists;
      const again = await rejection(registry.acquire(ID));
      assert.equal(again.message, first.message);
      assert.equal(again.kind, "unavailable");
      assert.ok((again.info?.retry_after as number) >= 1);
      assert.equal(store.lists, lists + 1);
      clock.t += 150;
    }
    assert.equal(store.opens, opened, "not re-read while backing off");

    // Past 1 s: read again, fails again, now 2 s.
    clock.t += 1000;
    const second = await rejection(registry.acquire(ID));
    assert.ok(store.opens > opened, "retried after the backoff");
    assert.equal(second.info?.retry_after, 2);
    const opened2 = store.opens;
    clock.t += 1999;
    await rejection(registry.acquire(ID));
    assert.equal(store.opens, opened2);
    clock.t += 1;
    const third = await rejection(registry.acquire(ID));
    assert.equal(third.info?.retry_after, 4);
    assert.ok(store.opens > opened2);
    assert.ok(!registry.isLoaded(ID));
  });
});

Deno.test("the backoff stops growing at its maximum", async () => {
  await withStore(async (root, { store, registry, clock }) => {
    const original = await Deno.readFile(join(root, ID, WEIGHTS));
    await truncateWeights(root, { id: ID, bytes: original.length - 64 });
    const retried: number[] = [];
    await rejection(registry.acquire(ID));
    for (let step = 0; step < 6; step++) {
      let waited = 0;
      // Find the delay: advance 10 ms at a time until a retry opens files.
      while (true) {
        clock.t += 10;
        waited += 10;
        const opens = store.opens;
        await rejection(registry.acquire(ID));
        if (store.opens > opens) break;
      }
      retried.push(waited);
    }
    assert.deepEqual(retried, [10, 20, 40, 80, 80, 80]);
  }, { backoff: { broken: { firstMs: 10, maxMs: 80 } } });
});

Deno.test("a changed folder listing forgets the failure at once; a successful load resets the backoff", async () => {
  await withStore(async (root, { registry, clock }) => {
    const original = await truncateWeights(root, { id: ID, bytes: 200 });
    await rejection(registry.acquire(ID));
    clock.t += 1000;
    assert.equal((await rejection(registry.acquire(ID))).info?.retry_after, 2, "second failure");
    // The operator restores the file: the size changes, so the very next request loads it.
    await Deno.writeFile(join(root, ID, WEIGHTS), original);
    await loads(registry);
    assert.ok(registry.isLoaded(ID));

    // Broken again later (dropped from memory first): the backoff starts over at 1 s.
    registry.close();
    await truncateWeights(root, { id: ID, bytes: 200 });
    assert.equal((await rejection(registry.acquire(ID))).info?.retry_after, 1);
  });
});

Deno.test("store errors while the store still lists the folder back off briefly (250 ms)", async () => {
  await withStore(async (_root, { store, registry, clock }) => {
    store.failOpen = true;
    const down = await rejection(registry.acquire(ID));
    assert.equal(down.kind, "unavailable");
    assert.match(down.message, /test store is down/);
    assert.equal(down.info?.retry_after, 1);
    assert.equal(down.info?.retryable, undefined, "a store outage is worth retrying");
    store.failOpen = false;
    const opens = store.opens;
    clock.t += 249;
    await rejection(registry.acquire(ID));
    assert.equal(store.opens, opens, "still backing off");
    clock.t += 1;
    await loads(registry);
    assert.ok(registry.isLoaded(ID));
  });
});

Deno.test("a store that went down mid-load is retried as soon as it lists again", async () => {
  await withStore(async (_root, { store, registry }) => {
    // The listing works, then the store goes away before the weights are read.
    store.failOpen = true;
    const original = store.open.bind(store);
    store.open = (path) => {
      store.failList = true;
      return original(path);
    };
    await rejection(registry.acquire(ID));
    // Still down: the listing fails afresh (nothing remembered to wait for).
    const still = await rejection(registry.acquire(ID));
    assert.match(still.message, /test store is down/);
    // Back: the next request loads, with no clock change.
    store.failOpen = false;
    store.failList = false;
    store.open = original;
    await loads(registry);
    assert.ok(registry.isLoaded(ID));
  });
});

Deno.test("not found is never remembered: a dictionary that appears loads at once", async () => {
  await withStore(async (root, { registry }) => {
    const id = "later";
    assert.equal((await rejection(registry.acquire(id))).kind, "not_found");
    await Deno.mkdir(join(root, id));
    for await (const e of Deno.readDir(join(root, ID))) {
      await Deno.copyFile(join(root, ID, e.name), join(root, id, e.name));
    }
    const lease = await registry.acquire(id);
    lease.release();
  });
});

Deno.test("describe and list answer a remembered broken dictionary without reading it again", async () => {
  await withStore(async (root, { store, registry, clock }) => {
    const original = await Deno.readFile(join(root, ID, WEIGHTS));
    await truncateWeights(root, { id: ID, bytes: original.length - 64 });
    const failed = await rejection(registry.acquire(ID));
    const opens = store.opens;
    const described = await rejection(registry.describe(ID));
    assert.equal(described.message, failed.message);
    assert.equal(described.info?.retry_after, 1);
    const listed = await registry.list();
    assert.deepEqual(listed, [{ id: ID, format: "saelens", loaded: false, error: failed.message }]);
    assert.equal(store.opens, opens, "neither read a file");
    // After the backoff, describe reads again; failing again doubles the backoff.
    clock.t += 1000;
    assert.equal((await rejection(registry.describe(ID))).info?.retry_after, 2);
    assert.ok(store.opens > opens);
  });
});

Deno.test("a folder that cannot even be described is remembered too, by describe and acquire", async () => {
  await withStore(async (root, { store, registry, clock }) => {
    await Deno.writeTextFile(join(root, ID, "cfg.json"), "{ not json");
    const first = await rejection(registry.describe(ID));
    assert.equal(first.kind, "unavailable");
    assert.equal(first.info?.retry_after, 1);
    const opens = store.opens;
    assert.equal((await rejection(registry.describe(ID))).message, first.message);
    assert.equal((await rejection(registry.acquire(ID))).message, first.message);
    assert.equal((await registry.list())[0].error, first.message);
    assert.equal(store.opens, opens, "no file read while backing off");
    clock.t += 1000;
    await rejection(registry.acquire(ID));
    assert.ok(store.opens > opens, "read again after the backoff");
  });
});

Deno.test("garbage is collected after a load, and once no lease has been held for a moment", async () => {
  const collected: number[] = [];
  const heap = { bytes: 0 };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await withStore(async (_, { registry }) => {
    const lease = await registry.acquire(ID);
    await sleep(5);
    assert.equal(collected.length, 1, "the load's garbage, with the lease still held");
    heap.bytes = 1000;
    await sleep(40);
    assert.equal(collected.length, 1, "no idle collection while a lease is held");
    const again = await registry.acquire(ID);
    lease.release();
    await sleep(40);
    assert.equal(collected.length, 1, "another lease still held");
    again.release();
    again.release();
    await sleep(40);
    assert.equal(collected.length, 2, "idle: collected once");
    await rejection(registry.acquire("missing"));
    heap.bytes = 2000;
    await sleep(40);
    assert.equal(collected.length, 3, "a failed acquire leaves the registry idle too");
  }, {
    collector: {
      delayMs: 10,
      minGrowthBytes: 1,
      heapBytes: () => heap.bytes,
      collect: () => collected.push(heap.bytes),
    },
  });
});

Deno.test("the list reads explanation files without loading them: a tight budget keeps its dictionary", async () => {
  const demo = new URL("../dictionaries", import.meta.url).pathname;
  // Room for one demo dictionary (about 130 KB of weights), not for it and an indexed set.
  const { app, registry } = testApp({ store: fileStore(demo), memoryBudget: 200_000 });
  try {
    const rows = { activations: [Array.from({ length: 64 }, (_, i) => Math.sin(i))] };
    const enc = await postJson(app, { path: "/v1/dictionaries/demo-sparsify/encode", body: rows });
    assert.equal(enc.status, 200, await enc.clone().text());
    await enc.body?.cancel();
    for (let i = 0; i < 2; i++) {
      const list = await (await app.request("/v1/dictionaries")).json();
      const byId = new Map(list.dictionaries.map((d: { id: string }) => [d.id, d]));
      const sparsify = byId.get("demo-sparsify") as { loaded: boolean };
      assert.equal(sparsify.loaded, true, `listing ${i} evicted the loaded dictionary`);
      const topk = byId.get("demo-topk") as { loaded: boolean; explanations: { count: number } };
      assert.equal(topk.loaded, false);
      assert.ok(topk.explanations.count > 0, JSON.stringify(topk.explanations));
    }
    const metrics = await (await app.request("/metrics")).text();
    assert.match(metrics, /^saeserve_dictionary_evictions_total 0$/m);
  } finally {
    registry.close();
  }
});

Deno.test("list: explanation summaries are read once for concurrent listings, and a store outage is not remembered", async () => {
  const demo = new URL("../dictionaries", import.meta.url).pathname;
  const base = fileStore(demo);
  let opens = 0;
  let down = false;
  const store: Store = {
    ...base,
    describe: base.describe,
    list: (prefix) => base.list(prefix),
    ping: () => base.ping(),
    open(path: string) {
      if (path.endsWith("explanations.json")) {
        opens++;
        if (down) return Promise.reject(new SaeError("unavailable", "s3: 503 SlowDown"));
      }
      return base.open(path);
    },
  };
  const registry = new Registry(store, { backend: referenceBackend(), memoryBudget: 1 << 30 });
  const topk = async () => (await registry.list()).find((d) => d.id === "demo-topk")!.explanations!;
  try {
    down = true;
    const during = await topk();
    assert.equal(during.count, 0);
    assert.match(during.warnings[0], /SlowDown/);
    down = false;
    opens = 0;
    const lists = await Promise.all(Array.from({ length: 8 }, () => topk()));
    assert.ok(lists.every((s) => s.count > 0), "the outage was remembered");
    assert.equal(opens, 1, "eight concurrent listings read the file once");
    await topk();
    assert.equal(opens, 1, "a later listing reads it from memory");
  } finally {
    registry.close();
  }
});
