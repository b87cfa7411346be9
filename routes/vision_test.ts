/**
 * Vision over HTTP: per-image feature maps on a patch grid, heatmap PNGs (size, and pixel
 * brightness monotone in the activation, with and without a background image), spatial
 * interventions that change only the chosen patches, and the semantic probe's F1.
 * @module
 */

import assert from "node:assert/strict";
import { decode as decodePng, encode as encodePng } from "fast-png";
import { postJson, testApp } from "../tests/helpers.ts";
import { encodeNpy } from "../domain/io/npy.ts";

const ID = "saelens_standard";
const D = JSON.parse(
  Deno.readTextFileSync(
    new URL("../tests/fixtures/expected/saelens_standard.json", import.meta.url),
  ),
);
const base: number[] = D.x[0];

/** The strongest feature of the base row, and rows scaled so that feature grows along the grid. */
async function scaledGrid(app: ReturnType<typeof testApp>["app"], h: number, w: number) {
  const enc = await (await postJson(app, {
    path: `/v1/dictionaries/${ID}/encode`,
    body: { activations: [base] },
  }))
    .json();
  const feature = enc.indices[0][0];
  const rows = [base.map(() => 0)]; // one skipped CLS token
  for (let p = 0; p < h * w; p++) rows.push(base.map((v) => v * (0.2 + (1.8 * p) / (h * w - 1))));
  return { feature, rows };
}

Deno.test("vision: encode with a grid returns per-image feature maps equal to the patch codes", async () => {
  const { app, registry } = testApp();
  try {
    const { feature, rows } = await scaledGrid(app, 3, 4);
    const twoImages = [...rows, ...rows];
    const res = await postJson(app, {
      path: `/v1/dictionaries/${ID}/encode`,
      body: {
        activations: twoImages,
        grid: [3, 4],
        skip_tokens: 1,
        map_features: [feature],
      },
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = await res.json();
    assert.equal(body.maps.length, 2);
    const map = body.maps[1].features[0];
    assert.equal(map.feature, feature);
    for (let p = 0; p < 12; p++) {
      const r = 13 + 1 + p; // second image, after its CLS token
      const at = body.indices[r].indexOf(feature);
      assert.equal(map.values[p], at >= 0 ? body.values[r][at] : 0);
    }
    assert.equal(map.max, Math.max(...map.values));
    // The same request as .npy, its options in the query string (structured ones as JSON).
    const query = new URLSearchParams({
      grid: JSON.stringify([3, 4]),
      skip_tokens: "1",
      map_features: JSON.stringify([feature]),
    });
    const npy = await app.request(`/v1/dictionaries/${ID}/encode?${query}`, {
      method: "POST",
      headers: { "content-type": "application/x-npy", accept: "application/json" },
      body: encodeNpy(Float32Array.from(twoImages.flat()), [twoImages.length, base.length]),
    });
    assert.equal(npy.status, 200, await npy.clone().text());
    assert.deepEqual((await npy.json()).maps, body.maps);
    const bad = await postJson(app, {
      path: `/v1/dictionaries/${ID}/encode`,
      body: {
        activations: rows.slice(1),
        grid: [3, 4],
        skip_tokens: 1,
      },
    });
    assert.equal(bad.status, 422);
    await bad.body?.cancel();
  } finally {
    registry.close();
  }
});

Deno.test("vision: heatmap PNG has the requested size and brightness monotone in the activation", async () => {
  const { app, registry } = testApp();
  try {
    const { feature, rows } = await scaledGrid(app, 1, 8);
    // One image of 1 + 1 x 8 tokens, with `extra` options.
    const heatmap = (extra: Record<string, unknown>) =>
      postJson(app, {
        path: `/v1/dictionaries/${ID}/heatmap`,
        body: { activations: rows, grid: [1, 8], skip_tokens: 1, feature, ...extra },
      });
    const res = await heatmap({ size: [80, 10] });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get("content-type"), "image/png");
    const png = decodePng(new Uint8Array(await res.arrayBuffer()));
    assert.deepEqual([png.width, png.height], [80, 10]);
    // Patch centres along the row: 8 patches of 10 pixels; brightness never decreases.
    const bright = Array.from({ length: 8 }, (_, p) => {
      const at = (5 * 80 + p * 10 + 5) * png.channels;
      return (png.data[at] as number) + (png.data[at + 1] as number) + (png.data[at + 2] as number);
    });
    for (let p = 1; p < 8; p++) assert.ok(bright[p] >= bright[p - 1], `brightness ${bright}`);
    assert.ok(bright[7] > bright[0]);
    // Over a background image: same size as the image, and still monotone.
    const bg = encodePng({
      width: 40,
      height: 5,
      data: new Uint8Array(40 * 5 * 3).fill(90),
      channels: 3,
      depth: 8,
    });
    const over = await heatmap({ image: btoa(String.fromCharCode(...bg)) });
    const img = decodePng(new Uint8Array(await over.arrayBuffer()));
    assert.deepEqual([img.width, img.height], [40, 5]);
    const bad = await heatmap({ image: btoa("not an image") });
    assert.equal(bad.status, 422);
    await bad.body?.cancel();
    // Not base64 at all: 400 naming the field; a data: URL prefix is fine.
    const garbled = await heatmap({ image: "%%%not base64" });
    assert.equal(garbled.status, 400);
    assert.match((await garbled.json()).detail, /image must be base64/);
    const dataUrl = await heatmap({
      image: "data:image/png;base64," + btoa(String.fromCharCode(...bg)),
    });
    assert.equal(dataUrl.status, 200);
    await dataUrl.body?.cancel();
  } finally {
    registry.close();
  }
});

Deno.test("vision: steering with a patch mask changes only those patches' rows", async () => {
  const { app, registry } = testApp();
  try {
    const { feature, rows } = await scaledGrid(app, 2, 2);
    const mask = [[true, false], [false, true]];
    const res = await postJson(app, {
      path: `/v1/dictionaries/${ID}/steer`,
      body: {
        activations: rows,
        grid: [2, 2],
        skip_tokens: 1,
        interventions: [{ feature, mode: "clamp", value: -2, patches: mask }],
      },
    });
    assert.equal(res.status, 200, await res.clone().text());
    const out: number[][] = (await res.json()).activations;
    const changed = out.map((row, r) => row.some((v, c) => Math.abs(v - rows[r][c]) > 1e-6));
    // Row 0 is the CLS token; patches 0 and 3 are rows 1 and 4.
    assert.deepEqual(changed, [false, true, false, false, true]);
    const query = new URLSearchParams({
      grid: JSON.stringify([2, 2]),
      skip_tokens: "1",
      interventions: JSON.stringify([{ feature, mode: "clamp", value: -2, patches: mask }]),
    });
    const npy = await app.request(`/v1/dictionaries/${ID}/steer?${query}`, {
      method: "POST",
      headers: { "content-type": "application/x-npy", accept: "application/json" },
      body: encodeNpy(Float32Array.from(rows.flat()), [rows.length, base.length]),
    });
    assert.equal(npy.status, 200, await npy.clone().text());
    assert.deepEqual((await npy.json()).activations, out);
    const both = await postJson(app, {
      path: `/v1/dictionaries/${ID}/steer`,
      body: {
        activations: rows,
        interventions: [{ feature, mode: "ablate", patches: [0] }],
      },
    });
    assert.equal(both.status, 422); // patches without a grid
    await both.body?.cancel();
  } finally {
    registry.close();
  }
});

Deno.test("vision: the semantic probe scores a feature that fires only in positive images with F1 1", async () => {
  const { app, registry } = testApp();
  try {
    const { feature, rows } = await scaledGrid(app, 1, 2);
    const zero = rows.map((r) => r.map(() => 0));
    const images = [rows, zero, rows, zero];
    const res = await postJson(app, {
      path: `/v1/dictionaries/${ID}/features/semantic-probe`,
      body: {
        activations: images.flat(),
        grid: [1, 2],
        skip_tokens: 1,
        labels: [1, 0, 1, 0],
      },
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = await res.json();
    assert.equal(body.images, 4);
    const hit = body.features.find((f: { feature: number }) => f.feature === feature);
    assert.equal(hit.f1, 1);
    assert.equal(body.features[0].f1, 1);
  } finally {
    registry.close();
  }
});
