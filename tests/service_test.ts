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

Deno.test("describe loads on demand and reports loaded after a compute request", async () => {
  const { app, registry } = testApp();
  const d = await (await app.request("/v1/dictionaries/saelens_gated")).json();
  assert.equal(d.architecture, "gated");
  assert.equal(d.loaded, false);
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
