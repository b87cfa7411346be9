/**
 * NumPy .npy (format versions 1, 2 and 3): magic, a bounded Python-literal header naming
 * descr, fortran_order and shape, then the raw data. Float arrays of either byte order decode
 * to f32 in C order, and so do integer and bool arrays where floats are wanted; labels decode
 * from any of them, range-checked (npy_int.ts reads integers exactly).
 * @module
 */

import { dtypeSize, f16ToF32, f32ToF16, streamToF32 } from "./dtype.ts";
import { elementCount, type Tensor } from "../sae/tensor.ts";

import {
  fail,
  MAX_NPY_HEADER_BYTES,
  named,
  NPY_MAGIC,
  type NpyHeader,
  parseNpyHeader,
} from "./npy_header.ts";
import { dataBytes, fortranToC } from "./npy_layout.ts";
import { decodeNpyIntegers } from "./npy_int.ts";

export { MAX_NPY_HEADER_BYTES, type NpyHeader, parseNpyHeader } from "./npy_header.ts";
export {
  decodeNpyInt,
  decodeNpyIntegers,
  type DecodeNpyIntegersOptions,
  type NpyIntegers,
} from "./npy_int.ts";

/** Options of the whole-array .npy decoders. */
export interface DecodeNpyOptions {
  /** Largest data section accepted, in bytes (default: no limit). */
  readonly maxBytes?: number;
  /** The file's name or path: every FormatError then starts with it. */
  readonly name?: string;
}

/** The float elements of an .npy array with a float dtype, decoded to f32 in C order. */
function floats(bytes: Uint8Array, header: NpyHeader, maxBytes: number): Float32Array {
  const dtype = header.dtype!;
  const data = dataBytes(bytes, header, { maxBytes });
  const count = elementCount(header.shape);
  const out = new Float32Array(count);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = header.littleEndian;
  const fortran = header.fortranOrder && header.shape.length > 1;
  const flat = fortran ? new Float32Array(count) : out;
  if (dtype === "F32" && le) {
    new Uint8Array(flat.buffer).set(data);
  } else {
    const size = dtypeSize(dtype);
    for (let i = 0; i < count; i++) {
      flat[i] = size === 8
        ? view.getFloat64(i * 8, le)
        : size === 4
        ? view.getFloat32(i * 4, le)
        : f16ToF32(view.getUint16(i * 2, le));
    }
  }
  return fortran ? fortranToC(flat, header.shape, { out }) : out;
}

/**
 * Decode a whole .npy array to f32 in C order. Float arrays of any size and byte order;
 * integer and bool arrays too (each value a safe integer, rounded to f32 as a float64 is).
 */
export function decodeNpy(bytes: Uint8Array, options?: DecodeNpyOptions): Tensor {
  return named(options?.name, () => {
    const header = parseNpyHeader(bytes);
    const maxBytes = options?.maxBytes ?? Infinity;
    if (header.dtype) return { shape: header.shape, data: floats(bytes, header, maxBytes) };
    const ints = decodeNpyIntegers(bytes, { maxBytes });
    return { shape: ints.shape, data: Float32Array.from(ints.data) };
  });
}

/** Options of {@link decodeNpyLabels}. */
export interface DecodeNpyLabelsOptions extends DecodeNpyOptions {
  /** Labels are 0..classes-1 (default 2: binary 0/1 labels; at most 256). */
  readonly classes?: number;
}

/**
 * Decode an .npy array of class labels in C order: any integer or bool dtype (numpy's
 * defaults `<i8`, `<i4`, `|u1`, `|b1`), or floats holding whole numbers; every label must
 * lie in 0..classes-1, else an "invalid" FormatError naming the element (and the file).
 */
export function decodeNpyLabels(
  bytes: Uint8Array,
  options?: DecodeNpyLabelsOptions,
): { shape: readonly number[]; data: Uint8Array } {
  const classes = options?.classes ?? 2;
  if (!Number.isInteger(classes) || classes < 1 || classes > 256) {
    throw new RangeError(`classes must be an integer in 1..256, not ${classes}`);
  }
  return named(options?.name, () => {
    const header = parseNpyHeader(bytes);
    const maxBytes = options?.maxBytes ?? Infinity;
    const values = header.dtype
      ? floats(bytes, header, maxBytes)
      : decodeNpyIntegers(bytes, { maxBytes, min: 0, max: classes - 1, what: "label" }).data;
    const out = new Uint8Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isInteger(v) || v < 0 || v >= classes) {
        fail(`label ${v} at element ${i} is not a whole number in 0..${classes - 1}`, "invalid");
      }
      out[i] = v;
    }
    return { shape: header.shape, data: out };
  });
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
    data: fortran ? fortranToC(flat, h.shape, { out: new Float32Array(count) }) : flat,
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
