/**
 * The image codec on tiny PNGs and JPEGs made here with the npm encoders: exact PNG round trips
 * (RGB, RGBA, grey, 16-bit), JPEG within its loss, header dimensions read before any decoding
 * (hand-made JPEG marker sequences included), and the 413 / 422 answers.
 * @module
 */

import assert from "node:assert/strict";
import { encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";
import { decodeImage, encodeRgbPng } from "./image_codec.ts";
import { checkImageHeader, readImageHeader } from "./image_header.ts";
import { SaeError } from "../errors.ts";

/** A 3 x 2 RGB image with distinct values in every channel. */
const RGB = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => i * 14) };

function jpegOf(width: number, height: number, rgb: [number, number, number]): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) rgba.set([...rgb, 255], i * 4);
  return new Uint8Array(jpeg.encode({ width, height, data: rgba }, 95).data);
}

const kind = (k: string) => (e: unknown) => e instanceof SaeError && e.kind === k;

Deno.test("image: encodeRgbPng round trips exactly through decodeImage", () => {
  const png = encodeRgbPng(RGB);
  assert.deepEqual(readImageHeader(png), { format: "png", width: 3, height: 2 });
  const back = decodeImage(png);
  assert.deepEqual([back.width, back.height, ...back.data], [3, 2, ...RGB.data]);
});

Deno.test("image: PNG alpha is dropped, grey expanded and 16-bit reduced to the high byte", () => {
  const rgba = encodePng({
    width: 2,
    height: 1,
    channels: 4,
    depth: 8,
    data: Uint8Array.of(1, 2, 3, 0, 4, 5, 6, 255),
  });
  assert.deepEqual([...decodeImage(rgba).data], [1, 2, 3, 4, 5, 6]);
  const grey = encodePng({
    width: 2,
    height: 1,
    channels: 1,
    depth: 8,
    data: Uint8Array.of(7, 200),
  });
  assert.deepEqual([...decodeImage(grey).data], [7, 7, 7, 200, 200, 200]);
  const greyAlpha = encodePng({
    width: 1,
    height: 1,
    channels: 2,
    depth: 8,
    data: Uint8Array.of(9, 0),
  });
  assert.deepEqual([...decodeImage(greyAlpha).data], [9, 9, 9]);
  const deep = encodePng({
    width: 1,
    height: 1,
    channels: 3,
    depth: 16,
    data: Uint16Array.of(0x1234, 0xff00, 0x00ff),
  });
  assert.deepEqual([...decodeImage(deep).data], [0x12, 0xff, 0x00]);
});

Deno.test("image: a JPEG's header gives its size and it decodes close to its colour", () => {
  const bytes = jpegOf(16, 8, [200, 40, 90]);
  assert.deepEqual(readImageHeader(bytes), { format: "jpeg", width: 16, height: 8 });
  const img = decodeImage(bytes);
  assert.equal(img.data.length, 16 * 8 * 3);
  assert.deepEqual([img.width, img.height], [16, 8]);
  for (let i = 0; i < img.data.length; i++) {
    assert.ok(Math.abs(img.data[i] - [200, 40, 90][i % 3]) <= 6, `channel ${i}: ${img.data[i]}`);
  }
});

/** `png` with its IHDR declaring `width` x `height` (the pixel data untouched). */
function declaring(png: Uint8Array, width: number, height: number): Uint8Array {
  const out = png.slice();
  const view = new DataView(out.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  return out;
}

Deno.test("image: sizes are checked from the header before decoding (413 over the limit)", () => {
  const png = encodeRgbPng(RGB);
  assert.deepEqual(checkImageHeader(png, { maxPixels: 6 }), { format: "png", width: 3, height: 2 });
  assert.throws(
    () => checkImageHeader(png, { maxPixels: 5 }),
    (e) =>
      kind("too_large")(e) && (e as SaeError).info?.limit_value === 5 &&
      /3 x 2 pixels, over the limit of 5/.test((e as Error).message),
  );
  // A header declaring 100000 x 100000 is refused by the default limit without decoding.
  assert.throws(() => decodeImage(declaring(png, 100_000, 100_000)), kind("too_large"));
  assert.throws(() => decodeImage(jpegOf(16, 8, [0, 0, 0]), { maxPixels: 100 }), kind("too_large"));
  assert.throws(
    () => checkImageHeader(declaring(png, 0, 2)),
    (e) => kind("invalid")(e) && /empty image/.test((e as Error).message),
  );
});

Deno.test("image: other formats and undecodable bodies are 422", () => {
  const png = encodeRgbPng(RGB);
  assert.throws(() => decodeImage(new TextEncoder().encode("GIF89a")), kind("invalid"));
  assert.throws(() => checkImageHeader(Uint8Array.of(1, 2, 3)), kind("invalid"));
  assert.throws(
    () => decodeImage(png.subarray(0, 40)),
    (e) => kind("invalid")(e) && /could not be decoded/.test((e as Error).message),
  );
  const jpg = jpegOf(8, 8, [1, 2, 3]);
  assert.throws(() => decodeImage(jpg.subarray(0, jpg.length >> 1)), kind("invalid"));
});
