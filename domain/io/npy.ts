/**
 * NumPy .npy (format versions 1, 2 and 3): magic, a bounded Python-literal header naming
 * descr, fortran_order and shape, then the raw data. Float arrays of either byte order decode
 * to f32 in C order; integer arrays decode to i32 for feature indices.
 * @module
 */

import { dtypeSize, f16ToF32, f32ToF16, streamToF32 } from "./dtype.ts";
import { FormatError } from "../errors.ts";
import { elementCount, type Tensor } from "../sae/tensor.ts";

import {
  fail,
  MAX_NPY_HEADER_BYTES,
  NPY_MAGIC,
  type NpyHeader,
  parseNpyHeader,
} from "./npy_header.ts";

export { MAX_NPY_HEADER_BYTES, type NpyHeader, parseNpyHeader } from "./npy_header.ts";

/** C-order copy of an array stored in Fortran order (any rank). */
function fortranToC<T extends Float32Array | Int32Array>(
  data: T,
  shape: readonly number[],
  out: T,
): T {
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

function dataBytes(bytes: Uint8Array, header: NpyHeader, maxBytes: number): Uint8Array {
  const need = elementCount(header.shape) * header.elementSize;
  if (need > maxBytes) {
    throw new FormatError("npy", `array of ${need} bytes is over the ${maxBytes}-byte limit`);
  }
  const data = bytes.subarray(header.dataOffset);
  if (data.byteLength !== need) {
    fail(
      `shape (${header.shape}) of ${header.descr} needs ${need} data bytes, found ${data.byteLength}`,
    );
  }
  return data;
}

/** Decode a whole .npy float array to f32 in C order. */
export function decodeNpy(bytes: Uint8Array, options?: { maxBytes?: number }): Tensor {
  const header = parseNpyHeader(bytes);
  if (!header.dtype) fail(`dtype ${header.descr} is not a float type`, "invalid");
  const data = dataBytes(bytes, header, options?.maxBytes ?? Infinity);
  const count = elementCount(header.shape);
  const out = new Float32Array(count);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = header.littleEndian;
  const fortran = header.fortranOrder && header.shape.length > 1;
  const flat = fortran ? new Float32Array(count) : out;
  if (header.dtype === "F32" && le) {
    new Uint8Array(flat.buffer).set(data);
  } else {
    for (let i = 0; i < count; i++) {
      const size = dtypeSize(header.dtype);
      flat[i] = size === 8
        ? view.getFloat64(i * 8, le)
        : size === 4
        ? view.getFloat32(i * 4, le)
        : f16ToF32(view.getUint16(i * 2, le));
    }
  }
  return { shape: header.shape, data: fortran ? fortranToC(flat, header.shape, out) : out };
}

/** Decode a whole .npy integer array to i32 in C order; values outside i32 are "invalid". */
export function decodeNpyInt(
  bytes: Uint8Array,
  options?: { maxBytes?: number },
): { shape: readonly number[]; data: Int32Array } {
  const header = parseNpyHeader(bytes);
  if (!header.int) fail(`dtype ${header.descr} is not an integer type`, "invalid");
  const data = dataBytes(bytes, header, options?.maxBytes ?? Infinity);
  const count = elementCount(header.shape);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const { signed, size } = header.int;
  const le = header.littleEndian;
  const flat = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const o = i * size;
    let v: number | bigint;
    if (size === 1) v = signed ? view.getInt8(o) : view.getUint8(o);
    else if (size === 2) v = signed ? view.getInt16(o, le) : view.getUint16(o, le);
    else if (size === 4) v = signed ? view.getInt32(o, le) : view.getUint32(o, le);
    else v = signed ? view.getBigInt64(o, le) : view.getBigUint64(o, le);
    const n = Number(v);
    if (n < -(2 ** 31) || n >= 2 ** 31) {
      fail(`integer ${v} at element ${i} is out of range`, "invalid");
    }
    flat[i] = n;
  }
  const fortran = header.fortranOrder && header.shape.length > 1;
  return {
    shape: header.shape,
    data: fortran ? fortranToC(flat, header.shape, new Int32Array(count)) : flat,
  };
}

/**
 * Read an .npy float array from a stream (an npz member): the header first, then the data
 * streamed into its final array. `maxBytes` bounds the data size declared by the header.
 */
export async function readNpyStream(
  stream: ReadableStream<Uint8Array>,
  options: { maxBytes: number; alloc?: (length: number) => Float32Array },
): Promise<Tensor> {
  const reader = stream.getReader();
  let head = new Uint8Array(0);
  let header: NpyHeader | undefined;
  try {
    while (!header) {
      const { done, value } = await reader.read();
      if (done) fail("stream ended inside the header");
      const joined = new Uint8Array(head.byteLength + value.byteLength);
      joined.set(head);
      joined.set(value, head.byteLength);
      head = joined;
      if (head.byteLength < 12) continue;
      const view = new DataView(head.buffer);
      const need = head[6] === 1 ? 10 + view.getUint16(8, true) : 12 + view.getUint32(8, true);
      if (need > MAX_NPY_HEADER_BYTES + 12 || head.byteLength >= need) {
        header = parseNpyHeader(head);
      }
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
    throw e;
  }
  const h = header;
  const rest = head.subarray(h.dataOffset);
  if (!h.dtype) {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
    fail(`dtype ${h.descr} is not a float type`, "invalid");
  }
  const count = elementCount(h.shape);
  if (count * h.elementSize > options.maxBytes) {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
    fail(`array of ${count * h.elementSize} bytes is over the ${options.maxBytes}-byte limit`);
  }
  // Re-assemble: the bytes already read past the header, then the rest of the stream.
  const data = new ReadableStream<Uint8Array>({
    start(controller) {
      if (rest.byteLength > 0) controller.enqueue(rest);
    },
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (e) {
        controller.error(e);
      }
    },
    async cancel(reason) {
      await reader.cancel(reason);
    },
  });
  const fortran = h.fortranOrder && h.shape.length > 1;
  if (fortran && h.shape.length === 2) {
    const [rows, cols] = h.shape;
    const out = await streamToF32(data, {
      dtype: h.dtype,
      littleEndian: h.littleEndian,
      count,
      fortran: { rows, cols },
      out: options.alloc?.(count),
    });
    return { shape: h.shape, data: out };
  }
  const flat = await streamToF32(data, {
    dtype: h.dtype,
    littleEndian: h.littleEndian,
    count,
    out: fortran ? undefined : options.alloc?.(count),
  });
  return {
    shape: h.shape,
    data: fortran ? fortranToC(flat, h.shape, new Float32Array(count)) : flat,
  };
}

/** Serialize an array as .npy version 1.0 (little-endian f32, f16, f64 or i32), header padded to 64 bytes. */
export function encodeNpy(
  data: Float32Array | Int32Array,
  shape: readonly number[],
  options?: { dtype?: "F32" | "F16" | "F64" },
): Uint8Array<ArrayBuffer> {
  if (elementCount(shape) !== data.length) {
    throw new RangeError(`data length ${data.length} does not match shape (${shape})`);
  }
  const isInt = data instanceof Int32Array;
  const dtype = isInt ? null : options?.dtype ?? "F32";
  const descr = isInt ? "<i4" : dtype === "F16" ? "<f2" : dtype === "F64" ? "<f8" : "<f4";
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + dict.length + 1;
  dict += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const size = isInt ? 4 : dtypeSize(dtype!);
  const out = new Uint8Array(10 + dict.length + data.length * size);
  out.set(NPY_MAGIC);
  out[6] = 1;
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  const at = 10 + dict.length;
  if (isInt) {
    for (let i = 0; i < data.length; i++) view.setInt32(at + i * 4, data[i], true);
  } else if (dtype === "F32") {
    new Uint8Array(out.buffer, at).set(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
  } else {
    for (let i = 0; i < data.length; i++) {
      if (dtype === "F64") view.setFloat64(at + i * 8, data[i], true);
      else view.setUint16(at + i * 2, f32ToF16(data[i]), true);
    }
  }
  return out;
}
