/**
 * Labels and integer arrays over HTTP: /v1/probes/train and /v1/circuits/discover take 0/1
 * labels as numbers or booleans (numpy's int64 / int32 / uint8 / bool arrays as `tolist()`
 * writes them) with the same answers, and .npy bodies of integers are read as their values.
 * @module
 */

import assert from "node:assert/strict";
import { encodeNpy } from "../domain/io/npy.ts";
import { fileStore } from "../service/store/file.ts";
import { postJson, testApp } from "../tests/helpers.ts";

const DEMO = new URL("../dictionaries", import.meta.url).pathname;
const X = Array.from({ length: 12 }, (_, r) => [r % 2 + 0.1 * r, 1 - (r % 2) + 0.05 * r, 0.3]);
const Y = X.map((_, r) => r % 2);

Deno.test("probes: labels as numbers and as booleans give the same probe", async () => {
  const { app, registry } = testApp({ store: fileStore(DEMO) });
  try {
    const train = async (labels: unknown[]) => {
      const res = await postJson(app, {
        path: "/v1/probes/train",
        body: {
          activations: X,
          labels,
          test_activations: X,
          test_labels: labels,
          methods: ["logistic"],
        },
      });
      assert.equal(res.status, 200, await res.clone().text());
      return await res.json();
    };
    const asNumbers = await train(Y);
    assert.deepEqual(await train(Y.map((y) => y === 1)), asNumbers);
    const bad = await postJson(app, {
      path: "/v1/probes/train",
      body: { activations: X, labels: X.map(() => 2) },
    });
    assert.equal(bad.status, 422);
    assert.match((await bad.json()).detail, /labels must be 0 or 1 \(or false \/ true\)/);
    const unknown = await postJson(app, {
      path: "/v1/probes/train",
      body: { activations: X, labels: Y, nope: 1 },
    });
    assert.equal(unknown.status, 400, "the request stays strict");
  } finally {
    registry.close();
  }
});

Deno.test("circuits: boolean labels (JSON and query) and an int32 .npy body", async () => {
  const { app, registry } = testApp();
  try {
    const examples = 8;
    const heads = 3;
    const d = 4;
    const labels = Array.from({ length: examples }, (_, e) => (e % 2 === 0 ? 1 : 0));
    const outputs = labels.map((y, e) =>
      Array.from(
        { length: heads },
        (_, h) => Array.from({ length: d }, (_, c) => (h === 1 ? (y ? 3 : -3) : h + c) + (e % 3)),
      )
    );
    const options = { latents: 8, epochs: 20, train_examples: 4, seed: 1 };
    const discover = async (body: unknown) => {
      const res = await postJson(app, { path: "/v1/circuits/discover", body: body });
      assert.equal(res.status, 200, await res.clone().text());
      return (await res.json()).heads;
    };
    const asNumbers = await discover({ head_outputs: outputs, labels, options });
    const asBooleans = await discover({
      head_outputs: outputs,
      labels: labels.map((y) => y === 1),
      options,
    });
    assert.deepEqual(asBooleans, asNumbers);
    const q = new URLSearchParams({
      labels: JSON.stringify(labels.map((y) => y === 1)),
      options: JSON.stringify(options),
    });
    const ints = encodeNpy(Int32Array.from(outputs.flat(2)), [examples, heads, d]);
    const viaNpy = await app.request(`/v1/circuits/discover?${q}`, {
      method: "POST",
      headers: { "content-type": "application/x-npy" },
      body: ints,
    });
    assert.equal(viaNpy.status, 200, await viaNpy.clone().text());
    assert.deepEqual((await viaNpy.json()).heads, asNumbers);
  } finally {
    registry.close();
  }
});

Deno.test("encode: an int32 .npy body is read as its values", async () => {
  const { app, registry } = testApp({ store: fileStore(DEMO) });
  try {
    const values = Array.from({ length: 2 * 64 }, (_, i) => (i * 7) % 5 - 2);
    const encode = async (body: Uint8Array<ArrayBuffer>) => {
      const res = await app.request("/v1/dictionaries/demo-topk/encode", {
        method: "POST",
        headers: { "content-type": "application/x-npy" },
        body,
      });
      assert.equal(res.status, 200, await res.clone().text());
      return await res.json();
    };
    assert.deepEqual(
      await encode(encodeNpy(Int32Array.from(values), [2, 64])),
      await encode(encodeNpy(Float32Array.from(values), [2, 64])),
    );
  } finally {
    registry.close();
  }
});
