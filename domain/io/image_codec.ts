/**
 * PNG and JPEG through well-kept npm codecs (fast-png, jpeg-js): decode an uploaded image to
 * RGB (alpha dropped, 16-bit reduced, grey expanded) and encode RGB as PNG. Bounded sizes: the
 * dimensions are read from the header (PNG IHDR, JPEG SOF) before anything is decoded.
 * @module
 */

import { decode as decodePng, encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";
import { SaeError } from "../errors.ts";
import type { RgbImage } from "../features/heatmap.ts";

/** Largest image accepted by default, in pixels ($SAESERVE_MAX_IMAGE_PIXELS). */
export const MAX_PIXELS = 4096 * 4096;

/** An image's format and dimensions as its header declares them. */
export interface ImageHeader {
  readonly format: "png" | "jpeg";
  readonly width: number;
  readonly height: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** JPEG start-of-frame markers (SOF0-SOF15 less DHT, JPG and DAC): they carry the dimensions. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
    marker !== 0xcc;
}

/**
 * Format and dimensions from the header alone (PNG: the IHDR chunk; JPEG: the first SOF
 * segment), without decoding; null when `bytes` is neither or the header is cut or broken.
 */
export function readImageHeader(bytes: Uint8Array): ImageHeader | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) {
    if (bytes.length < 24) return null;
    const ihdr = String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]);
    if (ihdr !== "IHDR") return null;
    return { format: "png", width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1];
    if (marker === 0xff) { // fill byte
      at++;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { // no payload
      at += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end of image / scan before any frame
    const length = view.getUint16(at + 2);
    if (length < 2) return null;
    if (isStartOfFrame(marker)) {
      if (at + 9 > bytes.length || length < 7) return null;
      return { format: "jpeg", height: view.getUint16(at + 5), width: view.getUint16(at + 7) };
    }
    at += 2 + length;
  }
  return null;
}

/**
 * 413 unless the header's width x height is at most `maxPixels`; 422 for bytes whose header
 * declares no usable size. Reads only the header.
 */
export function checkImageHeader(
  bytes: Uint8Array,
  options?: { maxPixels?: number },
): ImageHeader {
  const header = readImageHeader(bytes);
  if (!header) {
    throw new SaeError(
      "invalid",
      "the image must be PNG or JPEG with a readable header (IHDR / SOF)",
    );
  }
  if (header.width === 0 || header.height === 0) {
    throw new SaeError("invalid", "the image header declares an empty image");
  }
  const maxPixels = options?.maxPixels ?? MAX_PIXELS;
  if (header.width * header.height > maxPixels) {
    throw new SaeError(
      "too_large",
      `the image declares ${header.width} x ${header.height} pixels, over the limit of ${maxPixels} (SAESERVE_MAX_IMAGE_PIXELS)`,
      { info: { limit: "SAESERVE_MAX_IMAGE_PIXELS", limit_value: maxPixels } },
    );
  }
  return header;
}

/**
 * Decode a PNG or JPEG to RGB. The header's dimensions are checked first (413 beyond
 * `maxPixels`, default {@link MAX_PIXELS}); 422 for anything else or anything undecodable.
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
