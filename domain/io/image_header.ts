/**
 * An uploaded image's format and dimensions from its header alone (PNG IHDR, JPEG SOF), and the
 * size check every image passes before anything decodes it. No codec: the request thread uses
 * it to price and refuse images without loading one.
 * @module
 */

import { SaeError } from "../errors.ts";

/** An RGB image, row-major, 3 bytes per pixel (what the codecs decode to and encode from). */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

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
