import assert from "node:assert/strict";
import { colormap, renderHeatmap } from "./heatmap.ts";
import { decodeImage, encodeRgbPng } from "../io/image_codec.ts";
import { imageCount, patchRows, semanticProbe } from "./vision.ts";

Deno.test("vision: image counts, patch indices and masks map to rows of every image", () => {
  const grid = { h: 2, w: 3, skip: 1 };
  assert.equal(imageCount(14, grid), 2);
  assert.throws(() => imageCount(13, grid), /whole number of images/);
  assert.deepEqual(patchRows([0, 5], { grid, images: 2 }), [1, 6, 8, 13]);
  assert.deepEqual(patchRows([true, false, false, false, false, true], { grid, images: 1 }), [
    1,
    6,
  ]);
  assert.deepEqual(patchRows([[false, true, false], [false, false, false]], { grid, images: 1 }), [
    2,
  ]);
  assert.throws(() => patchRows([6], { grid, images: 1 }), /outside/);
  assert.throws(() => patchRows([[true]], { grid, images: 1 }), /2 x 3/);
});

Deno.test("vision: semantic probe F1, precision and recall", () => {
  // 3 images of 1 patch, no skip; feature 4 fires in images 0 and 1; labels 1, 0, 1.
  const codes = {
    width: 8,
    indices: [Int32Array.of(4), Int32Array.of(4), Int32Array.of(2)],
    values: [Float32Array.of(1), Float32Array.of(2), Float32Array.of(1)],
  };
  const [a, b] = semanticProbe(codes, { grid: { h: 1, w: 1, skip: 0 }, labels: [1, 0, 1] });
  // feature 2: tp 1 / fired 1 -> p 1, r 0.5, f1 2/3; feature 4: p 0.5, r 0.5, f1 0.5.
  assert.deepEqual([a.feature, +a.f1.toFixed(6)], [2, 0.666667]);
  assert.deepEqual([b.feature, b.precision, b.recall, b.f1], [4, 0.5, 0.5, 0.5]);
});

Deno.test("heatmap: the colour ramp gets brighter with the value; rendering is monotone", () => {
  const bright = (t: number) => colormap(t).reduce((s, v) => s + v, 0);
  for (let t = 0.05; t <= 1; t += 0.05) assert.ok(bright(t) >= bright(t - 0.05));
  const img = renderHeatmap(Float32Array.of(0, 1, 2, 3), {
    grid: { h: 1, w: 4 },
    size: { width: 4, height: 1 },
  });
  const px = [0, 1, 2, 3].map((x) => img.data[x * 3] + img.data[x * 3 + 1] + img.data[x * 3 + 2]);
  assert.deepEqual([...px].sort((p, q) => p - q), px);
});

Deno.test("image codec: PNG round trip; garbage is a 422-kind error", () => {
  const rgb = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => i * 10) };
  assert.deepEqual(decodeImage(encodeRgbPng(rgb)), rgb);
  assert.throws(() => decodeImage(new Uint8Array([1, 2, 3, 4])), /PNG or JPEG/);
});
