import assert from "node:assert/strict";
import { referenceBackend } from "../backends/reference/mod.ts";
import { JobRunner } from "../service/jobs/mod.ts";
import { MetricsRegistry } from "../service/prometheus.ts";
import { Registry } from "../service/registry.ts";
import { fileStore } from "../service/store/file.ts";
import { FIXTURE_DICTS, postJson, testApp } from "../tests/helpers.ts";
import { createApp } from "./mod.ts";
import { READY_PING_MS } from "./health.ts";

Deno.test("/metrics names each loaded dictionary, and drops it once evicted", async () => {
  const { app, registry } = testApp();
  const before = await (await app.request("/metrics")).text();
  assert.doesNotMatch(before, /saeserve_dictionary_loaded\{/);
  for (const id of ["dl_topk", "dl_relu"]) {
    const d = await (await app.request(`/v1/dictionaries/${id}`)).json();
    const r = await postJson(app, {
      path: `/v1/dictionaries/${id}/encode`,
      body: {
        activations: [new Array(d.d_in).fill(0.5)],
      },
    });
    assert.equal(r.status, 200);
  }
  const after = await (await app.request("/metrics")).text();
  assert.match(after, /# TYPE saeserve_dictionary_loaded gauge/);
  assert.match(after, /\nsaeserve_dictionary_loaded\{dictionary="dl_relu"\} 1\n/);
  assert.match(after, /\nsaeserve_dictionary_loaded\{dictionary="dl_topk"\} 1\n/);
  registry.close();
  const closed = await (await app.request("/metrics")).text();
  assert.doesNotMatch(closed, /saeserve_dictionary_loaded\{/);
});

Deno.test("/readyz answers 503 while the service drains, so a proxy stops sending to it", async () => {
  let draining = false;
  const backend = referenceBackend();
  const registry = new Registry(fileStore(FIXTURE_DICTS), { backend, memoryBudget: 1 << 30 });
  const jobs = new JobRunner();
  const app = createApp({
    registry,
    backend,
    metrics: new MetricsRegistry(),
    jobs,
    maxBodyBytes: 1 << 20,
    draining: () => draining,
  }, { memoryBudget: 1 << 30 });
  assert.equal((await app.request("/readyz")).status, 200);
  draining = true;
  const r = await app.request("/readyz");
  assert.equal(r.status, 503);
  assert.match((await r.json()).detail, /shutting down/);
  jobs.close();
  registry.close();
});

Deno.test("/readyz answers 503 within READY_PING_MS when the store takes the request but never answers", async () => {
  const files = fileStore(FIXTURE_DICTS);
  let pending: (() => void) | undefined;
  let pings = 0;
  let answering = false;
  const silent = {
    ...files,
    ping: () => {
      pings++;
      return answering ? Promise.resolve() : new Promise<void>((resolve) => (pending = resolve));
    },
  };
  const { app, registry } = testApp({ store: silent });
  try {
    const started = performance.now();
    const r = await app.request("/readyz");
    const ms = performance.now() - started;
    assert.equal(r.status, 503);
    assert.match((await r.json()).detail, /the file store is unavailable/);
    assert.ok(ms >= READY_PING_MS - 50 && ms < READY_PING_MS + 1500, `answered after ${ms} ms`);
    // A second probe while the first check still hangs shares it: one check at a time.
    assert.equal((await app.request("/readyz")).status, 503);
    assert.equal(pings, 1);
    answering = true;
    pending?.();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal((await app.request("/readyz")).status, 200, "the store answered");
    assert.equal(pings, 2);
  } finally {
    pending?.();
    registry.close();
  }
});
