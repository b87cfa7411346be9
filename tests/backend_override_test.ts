/**
 * X-Saeserve-Backend on a request picks the backend when the service allows it
 * ($SAESERVE_ALLOW_BACKEND_OVERRIDE=1), and is ignored otherwise.
 * @module
 */

import assert from "node:assert/strict";
import { backendSet } from "../backends/backend_set.ts";
import { referenceBackend } from "../backends/reference/mod.ts";
import { wasmBackend } from "../backends/wasm/mod.ts";
import { loadFixtures } from "./conformance.ts";
import { testApp } from "./helpers.ts";

const f = loadFixtures().find((x) => x.case === "saelens_standard")!;
const post = (app: ReturnType<typeof testApp>["app"], backend?: string) =>
  Promise.resolve(app.request(`/v1/dictionaries/${f.case}/encode`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(backend ? { "x-saeserve-backend": backend } : {}),
    },
    body: JSON.stringify({ activations: f.x }),
  }));

Deno.test("a request's X-Saeserve-Backend chooses the backend when overrides are allowed", async () => {
  const wasm = await wasmBackend({ threads: 1 });
  const set = backendSet(referenceBackend(), { others: [wasm] });
  const { app, registry } = testApp({ backend: set, chooseBackend: (name) => set.use(name) });
  try {
    const viaWasm = await post(app, "wasm");
    assert.equal(viaWasm.status, 200);
    assert.equal(viaWasm.headers.get("x-saeserve-backend"), "wasm");
    const viaDefault = await post(app);
    assert.equal(viaDefault.headers.get("x-saeserve-backend"), "reference");
    assert.deepEqual((await viaWasm.json()).indices, (await viaDefault.json()).indices);
    const unknown = await post(app, "cuda");
    assert.equal(unknown.status, 422);
    assert.match((await unknown.json()).detail, /reference, wasm/);
  } finally {
    registry.close();
    wasm.close();
  }
});

Deno.test("X-Saeserve-Backend is ignored when overrides are not allowed", async () => {
  const { app, registry } = testApp();
  try {
    const res = await post(app, "wasm");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-saeserve-backend"), "reference");
    await res.body?.cancel();
  } finally {
    registry.close();
  }
});
