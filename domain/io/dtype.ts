/**
 * Element types of stored tensors and their conversion to f32, the one compute precision.
 * Conversion streams: a tensor flows from its source chunk by chunk into its final array,
 * optionally transposed on the way (Fortran order, nn.Linear layout).
 * @module
 */

import { FormatError } from "../errors.ts";

/** Floating-point element types read from checkpoints and request bodies (safetensors names). */
export type DType = "F32" | "F16" | "BF16" | "F64";

/** Every supported dtype. */
export const DTYPES: readonly DType[] = ["F32", "F16", "BF16", "F64"];

/** Bytes per element. */
export function dtypeSize(dtype: DType): number {
  return dtype === "F64" ? 8 : dtype === "F32" ? 4 : 2;
}

/** Whether `name` is a supported dtype. */
export function isDType(name: string): name is DType {
  return (DTYPES as readonly string[]).includes(name);
}

let f16Table: Float32Array | undefined;

/** All 65536 half-precision values, built once on first use. */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = f16ToF32(h);
  f16Table = table;
  return table;
}

/** Decode one IEEE 754 half-precision bit pattern. */
export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Round an f32 to the nearest half-precision bit pattern (ties to even), as numpy does. */
export function f32ToF16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let out = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    if (rest > half || (rest === half && (out & 1))) out++;
    return sign | out;
  }
  let out = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (out & 1))) out++; // may carry into the exponent: correct
  return sign | out;
}

/** Decode one bfloat16 bit pattern. */
export function bf16ToF32(bits: number): number {
  u32Scratch[0] = (bits & 0xffff) << 16;
  return f32Scratch[0];
}

/** Round an f32 to the nearest bfloat16 bit pattern (ties to even); NaN stays NaN. */
export function f32ToBf16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** How stored bytes are laid out. */
export interface ElementLayout {
  /** Element type. */
  dtype: DType;
  /** Byte order of each element. */
  littleEndian: boolean;
}

/** Options of {@link streamToF32}. */
export interface StreamToF32Options extends ElementLayout {
  /** Exact number of elements the stream must hold. */
  count: number;
  /**
   * Stored in column-major (Fortran) order for a [rows, cols] array: element i of the stream
   * lands at row i % rows, column floor(i / rows) of the row-major output.
   */
  fortran?: { rows: number; cols: number };
  /** Where to put the values (length `count`); a new array when absent. */
  out?: Float32Array;
}

/**
 * Decode `n` elements of `src` starting at byte `offset` into `out`, element `index` onward
 * in stream order (scattered when `fortran` is given).
 */
function decodeRun(
  src: Uint8Array,
  offset: number,
  n: number,
  out: Float32Array,
  index: number,
  options: StreamToF32Options,
): void {
  const { dtype, littleEndian: le, fortran } = options;
  const view = new DataView(src.buffer, src.byteOffset + offset, n * dtypeSize(dtype));
  if (!fortran && dtype === "F32" && le) {
    new Uint8Array(out.buffer, out.byteOffset + index * 4, n * 4).set(
      src.subarray(offset, offset + n * 4),
    );
    return;
  }
  const rows = fortran?.rows ?? 1;
  const cols = fortran?.cols ?? 1;
  // Destination of stream element `index`: row-major position, walking column-major.
  let r = fortran ? index % rows : 0;
  let c = fortran ? Math.floor(index / rows) : 0;
  const table = dtype === "F16" ? halfTable() : undefined;
  for (let i = 0; i < n; i++) {
    let v: number;
    switch (dtype) {
      case "F32":
        v = view.getFloat32(i * 4, le);
        break;
      case "F64":
        v = view.getFloat64(i * 8, le);
        break;
      case "F16":
        v = table![view.getUint16(i * 2, le)];
        break;
      default:
        v = bf16ToF32(view.getUint16(i * 2, le));
    }
    if (fortran) {
      out[r * cols + c] = v;
      if (++r === rows) {
        r = 0;
        c++;
      }
    } else {
      out[index + i] = v;
    }
  }
}

/** Decode a whole byte array of elements to f32 (C order). */
export function bytesToF32(bytes: Uint8Array, layout: ElementLayout): Float32Array {
  const size = dtypeSize(layout.dtype);
  if (bytes.byteLength % size !== 0) {
    throw new FormatError(
      "tensor",
      `${bytes.byteLength} bytes is not a whole number of ${layout.dtype} elements`,
    );
  }
  const out = new Float32Array(bytes.byteLength / size);
  decodeRun(bytes, 0, out.length, out, 0, { ...layout, count: out.length });
  return out;
}

/** Encode f32 values as little-endian bytes of `dtype` (rounding to nearest even). */
export function f32ToBytes(data: Float32Array, dtype: DType): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(data.length * dtypeSize(dtype));
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    switch (dtype) {
      case "F32":
        view.setFloat32(i * 4, data[i], true);
        break;
      case "F64":
        view.setFloat64(i * 8, data[i], true);
        break;
      case "F16":
        view.setUint16(i * 2, f32ToF16(data[i]), true);
        break;
      default:
        view.setUint16(i * 2, f32ToBf16(data[i]), true);
    }
  }
  return out;
}

/**
 * Read exactly `count` elements from a byte stream into a new Float32Array. A stream that is
 * shorter or longer is a FormatError; the stream is cancelled on any error.
 */
export async function streamToF32(
  stream: ReadableStream<Uint8Array>,
  options: StreamToF32Options,
): Promise<Float32Array> {
  const { count, fortran } = options;
  if (fortran && fortran.rows * fortran.cols !== count) {
    throw new FormatError(
      "tensor",
      `fortran shape [${fortran.rows}, ${fortran.cols}] does not hold ${count} elements`,
    );
  }
  const size = dtypeSize(options.dtype);
  if (options.out && options.out.length !== count) {
    throw new RangeError(`output of ${options.out.length} values for ${count} elements`);
  }
  const out = options.out ?? new Float32Array(count);
  const carry = new Uint8Array(size);
  let carried = 0;
  let index = 0;
  const reader = stream.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      let offset = 0;
      if (carried > 0) {
        const take = Math.min(size - carried, value.byteLength);
        carry.set(value.subarray(0, take), carried);
        carried += take;
        offset = take;
        if (carried < size) continue;
        if (index >= count) {
          throw new FormatError("tensor", `more than the expected ${count} elements`);
        }
        decodeRun(carry, 0, 1, out, index++, options);
        carried = 0;
      }
      const whole = Math.floor((value.byteLength - offset) / size);
      if (index + whole > count) {
        throw new FormatError("tensor", `more than the expected ${count} elements`);
      }
      if (whole > 0) decodeRun(value, offset, whole, out, index, options);
      index += whole;
      offset += whole * size;
      carried = value.byteLength - offset;
      carry.set(value.subarray(offset), 0);
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    throw e;
  } finally {
    reader.releaseLock();
  }
  if (index !== count || carried !== 0) {
    throw new FormatError(
      "tensor",
      `data ended after ${index * size + carried} of ${count * size} bytes`,
    );
  }
  return out;
}
