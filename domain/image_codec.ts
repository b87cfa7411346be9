/**
 * PNG and JPEG through well-kept npm codecs (fast-png, jpeg-js): decode an uploaded image to
 * RGB (alpha dropped, 16-bit reduced, grey expanded) and encode RGB as PNG. Bounded sizes.
 * @module
 */

import { decode as decodePng, encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";
import { SaeError } from "./errors.ts";
import type { RgbImage } from "./heatmap.ts";

/** Largest image accepted, in pixels. */
export const MAX_PIXELS = 4096 * 4096;

/** Decode a PNG or JPEG to RGB; 422 for anything else or anything larger than MAX_PIXELS. */
export function decodeImage(bytes: Uint8Array): RgbImage {
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  try {
    if (isPng) {
      const img = decodePng(bytes);
      if (img.width * img.height > MAX_PIXELS) {
        throw new SaeError("invalid", "the image is too large");
      }
      const channels = img.channels;
      const src = img.data;
      const shift = img.depth === 16 ? 8 : 0;
      const out = new Uint8Array(img.width * img.height * 3);
      for (let i = 0; i < img.width * img.height; i++) {
        for (let k = 0; k < 3; k++) {
          const c = channels >= 3 ? k : 0; // grey (+alpha) expands to RGB
          out[i * 3 + k] = (src[i * channels + c] as number) >> shift;
        }
      }
      return { width: img.width, height: img.height, data: out };
    }
    if (isJpeg) {
      const img = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: MAX_PIXELS / 1e6,
        maxMemoryUsageInMB: 512,
      });
      const out = new Uint8Array(img.width * img.height * 3);
      for (let i = 0; i < img.width * img.height; i++) {
        out.set(img.data.subarray(i * 4, i * 4 + 3), i * 3);
      }
      return { width: img.width, height: img.height, data: out };
    }
  } catch (e) {
    if (e instanceof SaeError) throw e;
    throw new SaeError("invalid", `the image could not be decoded: ${(e as Error).message}`);
  }
  throw new SaeError("invalid", "the image must be PNG or JPEG");
}

/** Encode RGB as PNG. */
export function encodeRgbPng(image: RgbImage): Uint8Array<ArrayBuffer> {
  const png = encodePng({
    width: image.width,
    height: image.height,
    data: image.data,
    channels: 3,
    depth: 8,
  });
  return new Uint8Array(png);
}
