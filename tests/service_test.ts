import assert from "node:assert/strict";
import { testApp } from "./helpers.ts";

Deno.test("list describes every fixture dictionary with api.md fields", async () => {
  const { app, registry } = testApp();
  const res = await app.request("/v1/dictionaries");
  assert.equal(res.status, 200);
  const { dictionaries } = await res.json();
  const byId = new Map(dictionaries.map((d: { id: string }) => [d.id, d]));
  const gemma = byId.get("gemma_scope") as Record<string, unknown>;
  assert.equal(gemma.format, "gemma_scope");
  assert.equal(gemma.architecture, "jumprelu");
  assert.equal(typeof gemma.d_in, "number");
  assert.equal(gemma.loaded, false);
  const legacy = byId.get("saelens_legacy") as Record<string, unknown>;
  assert.equal(legacy.architecture, "topk");
  assert.equal(legacy.apply_b_dec_to_input, true);
  assert.equal((byId.get("sparsify_groupmax") as Record<string, unknown>).architecture, "groupmax");
  registry.close();
});

Deno.test("GET of one dictionary loads it if needed (api.md); the list does not", async () => {
  const { app, registry } = testApp();
  const listed = async () =>
    (await (await app.request("/v1/dictionaries")).json()).dictionaries.find((
      e: { id: string },
    ) => e.id === "saelens_gated");
  assert.equal((await listed()).loaded, false);
  assert.equal((await listed()).loaded, false, "listing never loads");
  const d = await (await app.request("/v1/dictionaries/saelens_gated")).json();
  assert.equal(d.architecture, "gated");
  assert.equal(d.loaded, true);
  assert.equal((await listed()).loaded, true);
  const x = [new Array(d.d_in).fill(0.5)];
  const enc = await app.request("/v1/dictionaries/saelens_gated/encode", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ activations: x }),
  });
  assert.equal(enc.status, 200);
  assert.equal((await (await app.request("/v1/dictionaries/saelens_gated")).json()).loaded, true);
  registry.close();
});

Deno.test("health, readiness, metrics, OpenAPI and docs respond", async () => {
  const { app, registry } = testApp();
  assert.deepEqual(await (await app.request("/healthz")).json(), { status: "ok" });
  const ready = await app.request("/readyz");
  assert.equal(ready.status, 200);
  assert.equal((await ready.json()).backend, "reference");
  await app.request("/v1/dictionaries");
  const metrics = await (await app.request("/metrics")).text();
  assert.match(
    metrics,
    /saeserve_http_requests_total\{backend="",method="GET",route="\/v1\/dictionaries",status="200"\} 1/,
  );
  assert.match(metrics, /saeserve_memory_budget_bytes \d+/);
  // Invented methods share one series: a client cannot grow /metrics without bound.
  for (let i = 0; i < 5; i++) await app.request("/v1/dictionaries", { method: `X${i}FOO` });
  const after = await (await app.request("/metrics")).text();
  assert.doesNotMatch(after, /method="X\dFOO"/);
  assert.match(after, /saeserve_http_requests_total\{[^}]*method="other"[^}]*\} 5/);
  const doc = await (await app.request("/openapi.json")).json();
  assert.equal(doc.openapi, "3.1.0");
  const steer = doc.paths["/v1/dictionaries/{id}/steer"].post;
  const body = steer.requestBody.content["application/json"].schema;
  assert.deepEqual(body.properties.interventions.items.properties.mode.enum, [
    "add",
    "clamp",
    "scale",
    "ablate",
    "orthogonal",
    "cap",
  ]);
  const docs = await app.request("/docs");
  assert.match(await docs.text(), /saeserve API reference/);
  registry.close();
});

Deno.test("list: every entry has a kind; aligned dictionaries are listed with their streams", async () => {
  const { app, registry } = testApp();
  try {
    const { dictionaries } = await (await app.request("/v1/dictionaries")).json();
    const byId = new Map<string, Record<string, unknown>>(
      dictionaries.map((d: { id: string }) => [d.id, d]),
    );
    assert.equal(byId.get("gemma_scope")!.kind, "dictionary");
    const aligned = byId.get("aligned_tiny")!;
    assert.equal(aligned.kind, "aligned");
    assert.equal(aligned.format, "aligned");
    assert.equal(aligned.d_sae, 12);
    assert.equal(aligned.k, 3);
    assert.deepEqual(aligned.streams, [{ name: "a", d: 6 }, { name: "b", d: 5 }, {
      name: "c",
      d: 4,
    }]);
    assert.equal(aligned.loaded, false);
    const kinds = new Set(dictionaries.map((d: { kind: string }) => d.kind));
    assert.deepEqual([...kinds].sort(), ["aligned", "dictionary"]);
    // Dictionaries first, then aligned ones: existing entries keep their order.
    const firstAligned = dictionaries.findIndex((d: { kind: string }) => d.kind === "aligned");
    assert.ok(
      dictionaries.slice(firstAligned).every((d: { kind: string }) => d.kind === "aligned"),
    );
  } finally {
    registry.close();
  }
});

Deno.test("GET /v1/aligned lists, GET /v1/aligned/{id} describes (404 for a plain dictionary)", async () => {
  const { app, registry } = testApp();
  try {
    const list = await (await app.request("/v1/aligned")).json();
    assert.deepEqual(list.aligned.map((a: { id: string }) => a.id), ["aligned_tiny"]);
    const one = await app.request("/v1/aligned/aligned_tiny");
    assert.equal(one.status, 200);
    const d = await one.json();
    assert.equal(d.kind, "aligned");
    assert.equal(d.latents, 12);
    assert.equal(d.metadata.description, "tiny aligned fixture");
    for (const id of ["gemma_scope", "nothing_here"]) {
      const res = await app.request(`/v1/aligned/${id}`);
      assert.equal(res.status, 404, id);
      assert.match((await res.json()).detail, /no aligned dictionary/);
    }
    // After a computation it is loaded, and still described.
    const enc = await app.request("/v1/aligned/aligned_tiny/encode", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ streams: { a: [[1, 0, 0, 0, 0, 0]] } }),
    });
    assert.equal(enc.status, 200);
    const loaded = await (await app.request("/v1/aligned/aligned_tiny")).json();
    assert.equal(loaded.loaded, true);
    assert.deepEqual(loaded.streams.map((s: { name: string }) => s.name), ["a", "b", "c"]);
    assert.equal(loaded.metadata?.description, "tiny aligned fixture", "metadata while loaded");
    const listed = await (await app.request("/v1/aligned")).json();
    assert.equal(listed.aligned[0].loaded, true);
    assert.equal(listed.aligned[0].metadata?.description, "tiny aligned fixture");
  } finally {
    registry.close();
  }
});

Deno.test("a wrong method on a known path is a 405 problem with Allow; OPTIONS and HEAD answer", async () => {
  const { app, registry } = testApp();
  try {
    const cases: [string, string, string][] = [
      ["GET", "/v1/dictionaries/gemma_scope/encode", "POST, OPTIONS"],
      ["PUT", "/v1/dictionaries/gemma_scope/steer", "POST, OPTIONS"],
      ["DELETE", "/v1/dictionaries", "GET, HEAD, OPTIONS"],
      ["POST", "/v1/dictionaries/gemma_scope", "GET, HEAD, OPTIONS"],
      ["GET", "/v1/probes/train", "POST, OPTIONS"],
      ["PATCH", "/v1/aligned/aligned_tiny", "GET, HEAD, OPTIONS"],
      ["POST", "/healthz", "GET, HEAD, OPTIONS"],
    ];
    for (const [method, path, allow] of cases) {
      const res = await app.request(path, { method });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      const problem = await res.json();
      assert.equal(problem.status, 405);
      assert.match(problem.detail, new RegExp(`${method} is not allowed on ${path}; use`));
    }
    const options = await app.request("/v1/dictionaries/gemma_scope/encode", { method: "OPTIONS" });
    assert.equal(options.status, 204);
    assert.equal(options.headers.get("allow"), "POST, OPTIONS");
    const head = await app.request("/v1/dictionaries", { method: "HEAD" });
    assert.equal(head.status, 200);
    // An unknown path is still a 404.
    assert.equal((await app.request("/v1/nothing", { method: "DELETE" })).status, 404);
    const metrics = await (await app.request("/metrics")).text();
    assert.match(metrics, /method="GET",route="\/v1\/dictionaries\/:id\/encode",status="405"/);
  } finally {
    registry.close();
  }
});

Deno.test("GET / links to where a newcomer starts, each link answering", async () => {
  const { app, registry } = testApp();
  try {
    const res = await app.request("/");
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.service, "saeserve");
    for (const path of Object.values(body.links) as string[]) {
      const linked = await app.request(path);
      assert.equal(linked.status, 200, path);
      await linked.body?.cancel();
    }
  } finally {
    registry.close();
  }
});
