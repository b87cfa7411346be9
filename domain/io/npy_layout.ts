/**
 * The data section of an .npy file: its size checked against the header's shape, and arrays
 * stored in Fortran (column-major) order copied to C order.
 * @module
 */

import { FormatError } from "../errors.ts";
import { elementCount } from "../sae/tensor.ts";
import { fail, type NpyHeader } from "./npy_header.ts";

/** Arrays the .npy readers decode into. */
export type NpyArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** C-order copy into `out` of `data` stored in Fortran order (any rank). */
export function fortranToC<T extends NpyArray>(
  data: T,
  shape: readonly number[],
  options: { out: T },
): T {
  const { out } = options;
  const rank = shape.length;
  if (rank <= 1) {
    out.set(data);
    return out;
  }
  // Strides of the C-order output; walk the input in Fortran order with an odometer.
  const stride = new Array<number>(rank);
  stride[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) stride[d] = stride[d + 1] * shape[d + 1];
  const idx = new Array<number>(rank).fill(0);
  let at = 0;
  for (let i = 0; i < data.length; i++) {
    out[at] = data[i];
    for (let d = 0; d < rank; d++) {
      at += stride[d];
      if (++idx[d] < shape[d]) break;
      at -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** The data bytes after the header: exactly what the shape needs, at most `maxBytes`. */
export function dataBytes(
  bytes: Uint8Array,
  header: NpyHeader,
  options: { maxBytes: number },
): Uint8Array {
  const { maxBytes } = options;
  const need = elementCount(header.shape) * header.elementSize;
  const data = bytes.subarray(header.dataOffset);
  // A cut-off file is named as such, before any limit (the limit may be the body's own size).
  if (need > maxBytes && data.byteLength >= need) {
    throw new FormatError("npy", `array of ${need} bytes is over the ${maxBytes}-byte limit`);
  }
  if (data.byteLength !== need) {
    fail(
      `shape (${header.shape}) of ${header.descr} needs ${need} data bytes, found ${data.byteLength}`,
    );
  }
  return data;
}
