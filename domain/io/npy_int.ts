/**
 * Integer and bool .npy arrays, as numpy writes labels, token ids and indices by default
 * (`<i8`, `<i4`, `|u1`, `|b1`, either byte order), decoded exactly and range-checked: int64
 * values past 2^53 or outside the caller's range are a FormatError naming the element.
 * @module
 */

import { elementCount } from "../sae/tensor.ts";
import { fail, named, type NpyHeader, parseNpyHeader } from "./npy_header.ts";
import { dataBytes, fortranToC } from "./npy_layout.ts";

/** Options of {@link decodeNpyIntegers}. */
export interface DecodeNpyIntegersOptions {
  /** Largest data section accepted, in bytes (default: no limit). */
  readonly maxBytes?: number;
  /** Smallest value allowed (default -(2^53 - 1)). */
  readonly min?: number;
  /** Largest value allowed (default 2^53 - 1). */
  readonly max?: number;
  /** What one value is, for errors ("label", "token id"; default "integer"). */
  readonly what?: string;
  /** The file's name or path: every FormatError then starts with it. */
  readonly name?: string;
}

/** A decoded integer array in C order; every value is a safe integer. */
export interface NpyIntegers {
  /** Dimensions. */
  readonly shape: readonly number[];
  /** The values, exact (any safe integer fits a double). */
  readonly data: Float64Array;
}

/** One element of an integer or bool array, as a number or (64-bit) a bigint. */
function element(view: DataView, at: number, header: NpyHeader): number | bigint {
  const { signed, size, bool } = header.int!;
  const le = header.littleEndian;
  if (bool) return view.getUint8(at) === 0 ? 0 : 1;
  if (size === 1) return signed ? view.getInt8(at) : view.getUint8(at);
  if (size === 2) return signed ? view.getInt16(at, le) : view.getUint16(at, le);
  if (size === 4) return signed ? view.getInt32(at, le) : view.getUint32(at, le);
  return signed ? view.getBigInt64(at, le) : view.getBigUint64(at, le);
}

/**
 * Decode a whole integer or bool .npy array (any size, either byte order, C or Fortran order)
 * exactly, each value checked against [min, max]. A float dtype is an "invalid" FormatError.
 */
export function decodeNpyIntegers(
  bytes: Uint8Array,
  options?: DecodeNpyIntegersOptions,
): NpyIntegers {
  return named(options?.name, () => integers(bytes, options));
}

function integers(bytes: Uint8Array, options?: DecodeNpyIntegersOptions): NpyIntegers {
  const header = parseNpyHeader(bytes);
  if (!header.int) fail(`dtype ${header.descr} is not an integer or bool type`, "invalid");
  const data = dataBytes(bytes, header, { maxBytes: options?.maxBytes ?? Infinity });
  const min = options?.min ?? -Number.MAX_SAFE_INTEGER;
  const max = options?.max ?? Number.MAX_SAFE_INTEGER;
  const what = options?.what ?? "integer";
  const count = elementCount(header.shape);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const size = header.elementSize;
  const flat = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const v = element(view, i * size, header);
    const n = Number(v);
    if (!Number.isSafeInteger(n)) {
      fail(`${what} ${v} at element ${i} is beyond 2^53 (not exact as a number)`, "invalid");
    }
    if (n < min || n > max) {
      fail(`${what} ${v} at element ${i} is outside ${min}..${max}`, "invalid");
    }
    flat[i] = n;
  }
  const fortran = header.fortranOrder && header.shape.length > 1;
  return {
    shape: header.shape,
    data: fortran ? fortranToC(flat, header.shape, { out: new Float64Array(count) }) : flat,
  };
}

/** Decode a whole integer or bool .npy array to i32 in C order; values outside i32 are "invalid". */
export function decodeNpyInt(
  bytes: Uint8Array,
  options?: { maxBytes?: number },
): { shape: readonly number[]; data: Int32Array } {
  const { shape, data } = decodeNpyIntegers(bytes, {
    maxBytes: options?.maxBytes,
    min: -(2 ** 31),
    max: 2 ** 31 - 1,
  });
  return { shape, data: Int32Array.from(data) };
}
