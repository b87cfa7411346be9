/**
 * Image headers read without a codec: hand-made JPEG marker sequences and cut or foreign bytes.
 * @module
 */

import assert from "node:assert/strict";
import { encodeRgbPng } from "./image_codec.ts";
import { readImageHeader } from "./image_header.ts";

/** A 3 x 2 RGB image. */
const RGB = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => i * 14) };

Deno.test("image: readImageHeader walks JPEG markers: fill bytes, RST, DHT, progressive SOF", () => {
  // SOF payload: length 17, precision 8, height 5, width 7 (then cut: the header is enough).
  const sof = (marker: number) => [0xff, marker, 0x00, 0x11, 0x08, 0x00, 0x05, 0x00, 0x07];
  const jpegBytes = (...parts: number[][]) => Uint8Array.from([0xff, 0xd8, ...parts.flat()]);
  const size = { format: "jpeg", width: 7, height: 5 };
  assert.deepEqual(readImageHeader(jpegBytes(sof(0xc0))), size);
  assert.deepEqual(readImageHeader(jpegBytes([0xff], sof(0xc2))), size, "fill byte, SOF2");
  assert.deepEqual(
    readImageHeader(jpegBytes([0xff, 0xd0], sof(0xc1))),
    size,
    "RST0 has no payload",
  );
  const dht = [0xff, 0xc4, 0x00, 0x04, 0xaa, 0xbb]; // 0xC4 is DHT, not a frame: skipped
  assert.deepEqual(readImageHeader(jpegBytes(dht, sof(0xc0))), size);
  const app0 = [0xff, 0xe0, 0x00, 0x03, 0x00];
  assert.deepEqual(readImageHeader(jpegBytes(app0, sof(0xc0))), size);
  // No frame before end of image or start of scan, a bad length, a cut SOF, no marker: null.
  assert.equal(readImageHeader(jpegBytes([0xff, 0xd9, 0, 0], sof(0xc0))), null);
  assert.equal(readImageHeader(jpegBytes([0xff, 0xda, 0, 2], sof(0xc0))), null);
  assert.equal(readImageHeader(jpegBytes([0xff, 0xe1, 0x00, 0x01], sof(0xc0))), null);
  assert.equal(readImageHeader(jpegBytes(sof(0xc0).slice(0, 6))), null);
  assert.equal(readImageHeader(jpegBytes([0x00, 0x00, 0x00, 0x00])), null);
});

Deno.test("image: readImageHeader answers null for cut PNGs and other bytes", () => {
  const png = encodeRgbPng(RGB);
  assert.equal(readImageHeader(png.subarray(0, 23)), null);
  const noIhdr = png.slice(0, 24);
  noIhdr[12] = 0x58; // "XHDR"
  assert.equal(readImageHeader(noIhdr), null);
  assert.equal(readImageHeader(new TextEncoder().encode("GIF89a......")), null);
  assert.equal(readImageHeader(new Uint8Array(0)), null);
});
