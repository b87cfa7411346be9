/**
 * The registry's remembered failures over HTTP: Retry-After, retryable false for broken files
 * whichever route meets them first, aligned dictionaries, and folders holding part of one.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileStore } from "./store/file.ts";
import { FIXTURE_DICTS, postJson, testApp } from "../tests/helpers.ts";
import { copyFixture, probe, truncateWeights } from "../tests/probe_store.ts";

const ID = "saelens_standard";

Deno.test("HTTP: a broken dictionary's 503 carries Retry-After and retryable false, and repeats without re-reading", async () => {
  const root = await Deno.makeTempDir({ prefix: "saeserve-backoff-http-" });
  await copyFixture(root, ID);
  await truncateWeights(root, { id: ID, bytes: 200 });
  const store = probe(fileStore(root));
  const { app, registry } = testApp({ store });
  try {
    const ask = () =>
      postJson(app, { path: `/v1/dictionaries/${ID}/encode`, body: { activations: [[0]] } });
    const first = await ask();
    assert.equal(first.status, 503);
    assert.equal(first.headers.get("retry-after"), "1");
    const body = await first.json();
    assert.equal(body.retry_after, 1);
    // Sending it again fails the same way until the files change: clients raise at once.
    assert.equal(body.retryable, false);
    const opens = store.opens;
    const second = await ask();
    assert.equal(second.status, 503);
    assert.equal(second.headers.get("retry-after"), "1");
    assert.equal((await second.json()).detail, body.detail);
    assert.equal(store.opens, opens, "the second request read no file");
    const metrics = await (await app.request("/metrics")).text();
    assert.match(
      metrics,
      /^saeserve_dictionary_loads_total\{result="malformed"\} 1$/m,
      "one load, one failure",
    );
  } finally {
    registry.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("HTTP: a broken dictionary met first through a route that describes it says retryable false, and so does encode after", async () => {
  const root = await Deno.makeTempDir({ prefix: "saeserve-backoff-describe-" });
  await copyFixture(root, ID);
  await truncateWeights(root, { id: ID, bytes: 200 });
  const { app, registry } = testApp({ store: fileStore(root) });
  try {
    const card = await app.request(`/v1/dictionaries/${ID}/features/0`);
    assert.equal(card.status, 503);
    assert.equal((await card.json()).retryable, false, "the describing route");
    const enc = await postJson(app, {
      path: `/v1/dictionaries/${ID}/encode`,
      body: { activations: [[0]] },
    });
    assert.equal(enc.status, 503);
    assert.equal((await enc.json()).retryable, false, "encode after it");
  } finally {
    registry.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("HTTP: a broken aligned dictionary's GET is a remembered 503 with Retry-After, retryable false", async () => {
  const root = await Deno.makeTempDir({ prefix: "saeserve-backoff-aligned-" });
  const id = "aligned_tiny";
  await Deno.mkdir(join(root, id));
  await Deno.copyFile(
    join(FIXTURE_DICTS, id, "aligned.safetensors"),
    join(root, id, "aligned.safetensors"),
  );
  await Deno.writeTextFile(
    join(root, id, "saeserve.json"),
    '{"kind": "aligned", "latents": "many"}',
  );
  const store = probe(fileStore(root));
  const { app, registry } = testApp({ store });
  try {
    const first = await app.request(`/v1/aligned/${id}`);
    assert.equal(first.status, 503);
    assert.equal(first.headers.get("retry-after"), "1");
    const body = await first.json();
    assert.equal(body.retryable, false);
    const opens = store.opens;
    const second = await app.request(`/v1/aligned/${id}`);
    assert.equal(second.status, 503);
    assert.equal((await second.json()).detail, body.detail);
    assert.equal(store.opens, opens, "the second request read no file");
  } finally {
    registry.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("HTTP: a folder with cfg.json but no weights (an upload in progress) is a 404 that says what it lacks", async () => {
  const root = await Deno.makeTempDir({ prefix: "saeserve-partial-" });
  await Deno.mkdir(join(root, ID));
  await Deno.copyFile(join(FIXTURE_DICTS, ID, "cfg.json"), join(root, ID, "cfg.json"));
  const { app, registry } = testApp({ store: fileStore(root) });
  try {
    const res = await postJson(app, {
      path: `/v1/dictionaries/${ID}/encode`,
      body: { activations: [[0]] },
    });
    assert.equal(res.status, 404);
    assert.match(
      (await res.json()).detail,
      /its folder holds cfg\.json but no sae_weights\.safetensors \(SAELens\) or sae\.safetensors \(sparsify\): an upload still in progress/,
    );
  } finally {
    registry.close();
    await Deno.remove(root, { recursive: true });
  }
});
