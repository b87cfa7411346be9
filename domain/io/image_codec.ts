/**
 * PNG and JPEG through well-kept npm codecs (fast-png, jpeg-js): decode an uploaded image to
 * RGB (alpha dropped, 16-bit reduced, grey expanded) and encode RGB as PNG. Bounded sizes: the
 * dimensions are read from the header (image_header.ts) before anything is decoded. The request
 * thread never imports this module (the codecs hold ~6 MiB): images are decoded in job workers.
 * @module
 */

import { decode as decodePng, encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";
import { SaeError } from "../errors.ts";
import { checkImageHeader, type RgbImage } from "./image_header.ts";

/**
 * Decode a PNG or JPEG to RGB. The header's dimensions are checked first (413 beyond
 * `maxPixels`, default image_header.ts's MAX_PIXELS); 422 for anything else or anything undecodable.
 */
export function decodeImage(bytes: Uint8Array, options?: { maxPixels?: number }): RgbImage {
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  if (!isPng && !isJpeg) throw new SaeError("invalid", "the image must be PNG or JPEG");
  const header = checkImageHeader(bytes, options);
  try {
    if (isPng) {
      const img = decodePng(bytes);
      if (img.width !== header.width || img.height !== header.height) {
        throw new SaeError("invalid", "the image's size differs from its header");
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
        maxResolutionInMP: (header.width * header.height) / 1e6 + 1e-6,
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
