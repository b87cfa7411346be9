/**
 * /v1/probes over HTTP: a planted dependency on three latents of a real dictionary is found by
 * the k=4 SAE probe, the returned probe document predicts, and bad input is rejected clearly.
 * @module
 */

import assert from "node:assert/strict";
import { fileStore } from "../service/store/file.ts";
import { postJson, testApp } from "../tests/helpers.ts";
import { seededRandom } from "../domain/random.ts";

const DEMO = new URL("../dictionaries", import.meta.url).pathname;
const PLANTED = [17, 80, 203];

/** Rows built from demo-topk's decoder directions; the label depends on three latents. */
async function plantedData(app: ReturnType<typeof testApp>["app"], n: number, seed: number) {
  const rand = seededRandom(seed);
  // Decoder rows via decode of one-hot codes.
  const ids = Array.from({ length: 256 }, (_, i) => i);
  const dec = await (await postJson(app, {
    path: "/v1/dictionaries/demo-topk/decode",
    body: {
      indices: ids.map((i) => [i]),
      values: ids.map(() => [1]),
    },
  })).json();
  const bias = (await (await postJson(app, {
    path: "/v1/dictionaries/demo-topk/decode",
    body: {
      indices: [[]],
      values: [[]],
    },
  })).json())
    .activations[0];
  const rows: number[][] = [];
  for (let r = 0; r < n; r++) {
    const x = new Array(64).fill(0);
    const chosen = new Set<number>();
    for (const p of PLANTED) if (rand() < 0.25) chosen.add(p);
    while (chosen.size < 6) chosen.add(Math.floor(rand() * 256));
    for (const i of chosen) {
      const c = 1 + rand();
      for (let j = 0; j < 64; j++) x[j] += c * (dec.activations[i][j] - bias[j]);
    }
    rows.push(x.map((v) => v + (rand() - 0.5) * 0.1));
  }
  // Labels from the dictionary's own codes of the planted latents.
  const enc = await (await postJson(app, {
    path: "/v1/dictionaries/demo-topk/encode",
    body: { activations: rows },
  })).json();
  const labels = enc.indices.map((ix: number[], r: number) => {
    const f = (l: number) => (ix.includes(l) ? enc.values[r][ix.indexOf(l)] : 0);
    return f(PLANTED[0]) + f(PLANTED[1]) + f(PLANTED[2]) > 0.5 ? 1 : 0;
  });
  return { rows, labels };
}

Deno.test("probes: the k=4 SAE probe finds the 3 planted latents with test AUC > 0.95; the probe predicts", async () => {
  const { app, registry } = testApp({ store: fileStore(DEMO) });
  try {
    const train = await plantedData(app, 400, 1);
    const test = await plantedData(app, 300, 2);
    const res = await postJson(app, {
      path: "/v1/probes/train",
      body: {
        activations: train.rows,
        labels: train.labels,
        test_activations: test.rows,
        test_labels: test.labels,
        dictionary: "demo-topk",
        k: [4],
        methods: ["sae", "logistic"],
      },
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = await res.json();
    const sae = body.methods.find((m: { name: string }) => m.name === "sae_k4");
    const found = sae.latents.map((l: { latent: number }) => l.latent);
    for (const p of PLANTED) assert.ok(found.includes(p), `latent ${p} in ${found}`);
    assert.ok(sae.test_auc > 0.95, `test AUC ${sae.test_auc}`);
    assert.ok(body.methods.find((m: { name: string }) => m.name === "logistic").test_auc > 0.5);
    // The best probe is a document the caller keeps and sends back.
    const pred = await postJson(app, {
      path: "/v1/probes/predict",
      body: {
        probe: body.probe,
        activations: test.rows.slice(0, 5),
      },
    });
    assert.equal(pred.status, 200, await pred.clone().text());
    const { probabilities } = await pred.json();
    assert.equal(probabilities.length, 5);
    assert.ok(probabilities.every((p: number) => p >= 0 && p <= 1));
  } finally {
    registry.close();
  }
});

Deno.test("probes: bad input gets 422 with a clear message", async () => {
  const { app, registry } = testApp({ store: fileStore(DEMO) });
  try {
    const x = [[1, 2], [3, 4], [5, 6], [7, 8]];
    const cases: [unknown, RegExp][] = [
      [{ activations: x, labels: [1, 1, 1, 1] }, /single class/],
      [{ activations: x, labels: [0, 1, 2, 1] }, /0 or 1/],
      [{ activations: x, labels: [0, 1] }, /2 entries for 4/],
      [{
        activations: Array.from({ length: 4 }, () => new Array(64).fill(1)),
        labels: [0, 1, 0, 1],
        dictionary: "demo-topk",
        methods: ["sae"],
        k: [300],
      }, /larger than the dictionary/],
      [{ activations: x, labels: [0, 1, 0, 1], methods: ["sae"] }, /needs a dictionary/],
      [
        { activations: x, labels: [0, 1, 0, 1], dictionary: "demo-topk", methods: ["logistic"] },
        /dictionary is used only by the sae method; add "sae" to methods \(logistic\)/,
      ],
      // No methods with a dictionary: all four, so the dictionary's d_in is checked.
      [
        { activations: x, labels: [0, 1, 0, 1], dictionary: "demo-topk" },
        /2 columns, dictionary d_in is 64/,
      ],
    ];
    for (const [body, pattern] of cases) {
      const res = await postJson(app, { path: "/v1/probes/train", body: body });
      assert.equal(res.status, 422, JSON.stringify(body).slice(0, 80));
      assert.match((await res.json()).detail, pattern);
    }
  } finally {
    registry.close();
  }
});

Deno.test("probes: predict names an inconsistent probe document before the activations' width", async () => {
  const { app, registry } = testApp({ store: fileStore(DEMO) });
  try {
    const x = [[1, 2], [3, 4]];
    const logistic = (mean: number[], scale: number[], weights: number[]) => ({
      kind: "logistic",
      scaler: { mean, scale },
      weights,
      intercept: 0,
    });
    const cases: [unknown, RegExp][] = [
      [logistic([0], [1, 1], [1, 1]), /inconsistent: scaler has 1 means and 2 scales/],
      [logistic([0, 0], [1, 1], [1]), /inconsistent: weights has 1 entries, the scaler 2/],
      [
        logistic([0, 0, 0], [1, 1, 1], [1, 1, 1]),
        /the probe expects 3 columns, activations have 2/,
      ],
    ];
    for (const [probe, pattern] of cases) {
      const res = await postJson(app, {
        path: "/v1/probes/predict",
        body: { probe, activations: x },
      });
      assert.equal(res.status, 422, JSON.stringify(probe));
      assert.match((await res.json()).detail, pattern);
    }
    const fine = logistic([0, 0], [1, 1], [1, -1]);
    const ok = await postJson(app, {
      path: "/v1/probes/predict",
      body: { probe: fine, activations: x },
    });
    assert.equal(ok.status, 200, await ok.clone().text());
  } finally {
    registry.close();
  }
});
