/**
 * Probes side by side on small seeded data: every method fits, the best is the one with the
 * highest validation AUC, each probe document survives JSON and predicts the test AUC the
 * training run reported, the SAE probe ranks the informative latent first, and the errors.
 * @module
 */

import assert from "node:assert/strict";
import { C_GRID, predictProbe, type ProbeDocument, trainProbes } from "./probes.ts";
import { rocAuc } from "./roc_auc.ts";
import { type Matrix, matrix, type SparseRows } from "../sae/matrix.ts";
import { gaussianArray, seededRandom } from "../random.ts";

/**
 * `n` rows of 3 features: x0 and x1 share a factor a (the top principal component after
 * standardizing), x2 is noise; the label is sign(a), 10% flipped.
 */
function data(n: number, seed: number): { x: Matrix; y: Uint8Array } {
  const g = gaussianArray(n * 4, seed);
  const x = matrix([n, 3]);
  for (let i = 0; i < n; i++) {
    const a = g[i * 4];
    x.data.set([a + 0.3 * g[i * 4 + 1], a + 0.3 * g[i * 4 + 2], g[i * 4 + 3]], i * 3);
  }
  const rand = seededRandom(seed + 1);
  const y = Uint8Array.from({ length: n }, (_, i) => {
    const clean = g[i * 4] > 0;
    return (rand() < 0.9 ? clean : !clean) ? 1 : 0;
  });
  return { x, y };
}

/** Codes of width 6: latent 4 fires (about 1) on positives, latent 1 on every row at random. */
function codesFor(y: Uint8Array, seed: number): SparseRows {
  const rand = seededRandom(seed);
  const indices: Int32Array[] = [];
  const values: Float32Array[] = [];
  for (const label of y) {
    const noise = 0.5 + rand();
    if (label) {
      indices.push(Int32Array.of(4, 1));
      values.push(Float32Array.of(1 + 0.1 * rand(), noise));
    } else {
      indices.push(Int32Array.of(1));
      values.push(Float32Array.of(noise));
    }
  }
  return { width: 6, indices, values };
}

const train = data(48, 11);
const test = data(40, 12);
const json = (p: ProbeDocument): ProbeDocument => JSON.parse(JSON.stringify(p));

Deno.test("probes: C_GRID is 10 log-spaced values from 1e-5 to 1e5", () => {
  assert.equal(C_GRID.length, 10);
  assert.ok(Math.abs(C_GRID[0] - 1e-5) < 1e-20 && Math.abs(C_GRID[9] - 1e5) < 1e-6);
  for (let i = 1; i < 10; i++) {
    assert.ok(Math.abs(Math.log10(C_GRID[i] / C_GRID[i - 1]) - 10 / 9) < 1e-12);
  }
});

Deno.test("probes: each baseline fits, the best has the top validation AUC, documents round trip", async () => {
  const { methods, best } = await trainProbes({ ...train, testX: test.x, testY: test.y }, {
    methods: ["logistic", "pca", "knn"],
    seed: 1,
  });
  assert.deepEqual(methods.map((m) => m.method), ["logistic", "pca", "knn"]);
  assert.equal(best.valAuc, Math.max(...methods.map((m) => m.valAuc)));
  for (const m of methods) {
    assert.ok(m.valAuc > 0.75, `${m.method} validation AUC ${m.valAuc}`);
    assert.ok(m.testAuc! > 0.75, `${m.method} test AUC ${m.testAuc}`);
    assert.equal(m.probe.kind, m.method);
    // The stored document alone reproduces the test AUC of the fitted model.
    const scores = await predictProbe(json(m.probe), test.x);
    assert.equal(scores.length, test.x.rows);
    assert.ok(scores.every((s) => s >= 0 && s <= 1));
    assert.ok(Math.abs(rocAuc(scores, test.y) - m.testAuc!) < 1e-12, `${m.method} document`);
  }
  const logistic = methods[0];
  assert.ok(C_GRID.includes(logistic.params.C as number));
  assert.equal(logistic.params.penalty, "l2");
  const pca = methods[1].probe;
  assert.ok(pca.kind === "pca" && pca.components.length === methods[1].params.components);
});

Deno.test("probes: the SAE probe ranks the informative latent first and predicts from codes", async () => {
  const codes = new Map([[train.x, codesFor(train.y, 5)], [test.x, codesFor(test.y, 6)]]);
  const encode = (m: Matrix) => Promise.resolve(codes.get(m)!);
  const { methods, best } = await trainProbes({ ...train, testX: test.x, testY: test.y }, {
    methods: ["sae"],
    ks: [1, 2],
    encode,
    dictionary: "dict-a",
  });
  assert.deepEqual(methods.map((m) => m.k), [1, 2]);
  assert.deepEqual(methods[0].latents?.map((l) => l.latent), [4]);
  assert.ok(methods[0].latents![0].weight > 0, "the latent firing on positives counts for y = 1");
  assert.equal(methods[0].testAuc, 1, "latent 4 separates the test set");
  assert.equal(best.method, "sae");
  const doc = json(methods[1].probe);
  assert.ok(doc.kind === "sae" && doc.dictionary === "dict-a" && doc.latents[0] === 4);
  const scores = await predictProbe(doc, test.x, { encode });
  assert.ok(Math.abs(rocAuc(scores, test.y) - methods[1].testAuc!) < 1e-12);
  await assert.rejects(predictProbe(doc, test.x), RangeError, "an sae probe needs its encoder");
});

Deno.test("probes: on random labels the SAE probe's validation AUC stays near chance", async () => {
  // Latents chosen on every training row before validation saw the validation labels: this
  // setup then scored a mean validation AUC of 0.91 at k = 16, though the labels are noise.
  const valAucs: number[] = [];
  for (let seed = 0; seed < 8; seed++) {
    const rand = seededRandom(100 + seed);
    const n = 40;
    const x = matrix([n, 2], new Float32Array(2 * n));
    const y = Uint8Array.from({ length: n }, (_, i) => i % 2);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [y[i], y[j]] = [y[j], y[i]];
    }
    const indices: Int32Array[] = [];
    const values: Float32Array[] = [];
    for (let r = 0; r < n; r++) {
      indices.push(Int32Array.from({ length: 8 }, () => Math.floor(rand() * 256)));
      values.push(Float32Array.from({ length: 8 }, () => 0.1 + rand()));
    }
    const codes: SparseRows = { width: 256, indices, values };
    const { methods } = await trainProbes({ x, y }, {
      methods: ["sae"],
      ks: [16],
      encode: () => Promise.resolve(codes),
      seed,
    });
    valAucs.push(methods[0].valAuc);
  }
  const mean = valAucs.reduce((a, b) => a + b) / valAucs.length;
  assert.ok(mean < 0.65, `mean validation AUC ${mean.toFixed(3)} on random labels`);
});

Deno.test("probes: no method, sae without a dictionary, and cancellation are errors", async () => {
  await assert.rejects(trainProbes(train, { methods: [] }), RangeError);
  await assert.rejects(trainProbes(train, { methods: ["sae"] }), /needs a dictionary/);
  const signal = AbortSignal.abort(new Error("abandoned"));
  await assert.rejects(trainProbes(train, { methods: ["logistic"], signal }), /abandoned/);
});
