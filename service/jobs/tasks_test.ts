/**
 * The job worker's task table, each task run directly on small inputs: JSON text, feature
 * maps, heatmaps as PNG (over an uploaded image, within its pixel limit), aligned encodes
 * with their stream checks, and probes trained and applied with precomputed codes.
 * @module
 */

import assert from "node:assert/strict";
import { TASKS } from "./tasks.ts";
import { matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import { decodeImage, encodeRgbPng } from "../../domain/io/image_codec.ts";
import { readImageHeader } from "../../domain/io/image_header.ts";
import type { AlignedDictionary } from "../../domain/sae/aligned.ts";
import { SaeError } from "../../domain/errors.ts";
import { gaussianArray } from "../../domain/random.ts";

const sparse = (width: number, rows: [number[], number[]][]): SparseRows => ({
  width,
  indices: rows.map(([ix]) => Int32Array.from(ix)),
  values: rows.map(([, v]) => Float32Array.from(v)),
});

Deno.test("tasks: json_text writes typed arrays as lists", () => {
  const text = new TextDecoder().decode(
    TASKS.json_text({ value: { a: Float32Array.of(0.5, 2), b: [Int32Array.of(3)], c: "x" } }),
  );
  assert.equal(text, '{"a":[0.5,2],"b":[[3]],"c":"x"}');
});

Deno.test("tasks: feature_maps gives each image's maps, chosen or top by activation", () => {
  // Grid 1 x 2 after one leading token: 3 rows per image, 2 images.
  const codes = sparse(8, [
    [[7], [9]], // image 0's leading token: never mapped
    [[2, 5], [1, 0.5]],
    [[5], [3]],
    [[1], [1]],
    [[], []],
    [[2], [4]],
  ]);
  const grid = { h: 1, w: 2, skip: 1 };
  const top = TASKS.feature_maps({ codes, rows: 6, grid, images: 2, top: 1 });
  assert.deepEqual(top, [
    { image: 0, features: [{ feature: 5, max: 3, values: [0.5, 3] }] },
    { image: 1, features: [{ feature: 2, max: 4, values: [0, 4] }] },
  ]);
  const chosen = TASKS.feature_maps({ codes, rows: 6, grid, images: 1, features: [2, 7], top: 1 });
  assert.deepEqual(chosen[0].features, [
    { feature: 2, max: 1, values: [1, 0] },
    { feature: 7, max: 0, values: [0, 0] },
  ]);
});

Deno.test("tasks: heatmap draws a PNG at the asked, image or default size", () => {
  const values = Float32Array.of(0, 1, 2, 3);
  const grid = { h: 2, w: 2, skip: 0 };
  const png = TASKS.heatmap({ values, grid });
  assert.deepEqual(readImageHeader(png), { format: "png", width: 32, height: 32 });
  const sized = decodeImage(TASKS.heatmap({ values, grid, size: { width: 5, height: 3 } }));
  assert.deepEqual([sized.width, sized.height, sized.data.length], [5, 3, 45]);
  const image = encodeRgbPng({ width: 6, height: 4, data: new Uint8Array(72).fill(128) });
  const over = TASKS.heatmap({ values, grid, image });
  assert.deepEqual(readImageHeader(over), { format: "png", width: 6, height: 4 });
  assert.throws(
    () => TASKS.heatmap({ values, grid, image, maxPixels: 23 }),
    (e) => e instanceof SaeError && e.kind === "too_large",
  );
});

/** One stream "a" (d 2, latents 2, k 1) with the identity encoder and decoder. */
const identity: AlignedDictionary = {
  latents: 2,
  k: 1,
  streams: [{
    name: "a",
    d: 2,
    wEnc: Float32Array.of(1, 0, 0, 1),
    bPre: new Float32Array(2),
    bLat: new Float32Array(2),
    wDec: Float32Array.of(1, 0, 0, 1),
  }],
};

Deno.test("tasks: aligned_encode and aligned_translate run on a shared dictionary", () => {
  const x = matrix([2, 2], Float32Array.of(3, 1, -1, 2));
  const out = TASKS.aligned_encode({ dict: identity, x: new Map([["a", x]]), topk: "local" });
  assert.deepEqual(out.indices.get("a")!.map((r) => [...r]), [[0], [1]]);
  assert.deepEqual(out.values.get("a")!.map((r) => [...r]), [[3], [2]]);
  assert.deepEqual(out.jaccard, [1, 1]);
  const back = TASKS.aligned_translate({ dict: identity, x, from: "a", to: "a" });
  assert.deepEqual([...back.data], [3, 0, 0, 2], "top-1 codes decoded back");
  assert.throws(
    () => TASKS.aligned_encode({ dict: identity, x: new Map([["b", x]]), topk: "global" }),
    (e) => e instanceof SaeError && e.kind === "invalid" && /unknown stream "b"/.test(e.message),
  );
});

Deno.test("tasks: probes train and predict on precomputed codes", async () => {
  const n = 24;
  const y = Uint8Array.from({ length: n }, (_, i) => i % 2);
  const x = matrix([n, 2], gaussianArray(n * 2, 3));
  // Latent 3 fires on positives only: a perfect SAE probe.
  const codes = sparse(4, Array.from(y, (label) => label ? [[3], [1]] : [[0], [0.5]]));
  const trained = await TASKS.probe_train({
    x,
    y,
    codes,
    options: { methods: ["sae"], ks: [1] },
  });
  assert.equal(trained.best.method, "sae");
  assert.deepEqual(trained.best.latents?.map((l) => l.latent), [3]);
  const p = await TASKS.probe_predict({ probe: trained.best.probe, x, codes });
  assert.equal(p.length, n);
  assert.ok(y.every((label, i) => label ? p[i] > 0.5 : p[i] < 0.5));
  // Codes stand in only for the rows they were computed for.
  await assert.rejects(
    TASKS.probe_train({
      x,
      y,
      codes,
      testX: matrix([n, 2]),
      testY: y,
      options: { methods: ["sae"], ks: [1] },
    }),
    /no codes were computed/,
  );
  await assert.rejects(
    TASKS.probe_train({ x, y, options: { methods: ["logistic"] } }, {
      signal: AbortSignal.abort(new Error("abandoned")),
    }),
    /abandoned/,
  );
});
