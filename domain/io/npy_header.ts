/**
 * The .npy header (format versions 1, 2 and 3): the magic, a version, and a bounded
 * Python-literal dict naming descr, fortran_order and shape, parsed without eval.
 * @module
 */

import { type DType } from "./dtype.ts";
import { FormatError } from "../errors.ts";
import { elementCount } from "../sae/tensor.ts";

/** Largest header accepted (numpy's own default limit is 10000 bytes; generous on purpose). */
export const MAX_NPY_HEADER_BYTES = 1 << 20;

/** The six bytes every .npy file starts with. */
export const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** The parsed header of an .npy file. */
export interface NpyHeader {
  /** Format major version (1, 2 or 3). */
  readonly version: number;
  /** The descr string as written, e.g. "<f4". */
  readonly descr: string;
  /** Float element type, or null for an integer array. */
  readonly dtype: DType | null;
  /**
   * Integer element kind and size for integer and bool arrays ("i" or "u", 1..8 bytes; a bool
   * is an unsigned byte read as 0 or 1).
   */
  readonly int: { signed: boolean; size: number; bool?: boolean } | null;
  /** Byte order of elements. */
  readonly littleEndian: boolean;
  /** Whether data is in column-major order. */
  readonly fortranOrder: boolean;
  /** Dimensions. */
  readonly shape: readonly number[];
  /** Byte offset where data starts. */
  readonly dataOffset: number;
  /** Bytes per element. */
  readonly elementSize: number;
}

/** Throw a FormatError about an .npy file. */
export function fail(message: string, kind?: "invalid"): never {
  throw new FormatError("npy", message, { kind });
}

/** Run `decode`, prefixing the message of any FormatError with `name` (when given). */
export function named<T>(name: string | undefined, decode: () => T): T {
  if (name === undefined) return decode();
  try {
    return decode();
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    throw new FormatError(name, e.message, {
      kind: e.kind === "invalid" ? "invalid" : "malformed",
      cause: e,
    });
  }
}

/** A value in the header's Python literal: string, bool, int tuple. */
type Literal = string | boolean | number[];

/** Parse the restricted Python dict literal numpy writes. */
function parseDictLiteral(text: string): Map<string, Literal> {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const expect = (ch: string) => {
    ws();
    if (text[i] !== ch) fail(`header: expected '${ch}' at ${i}`);
    i++;
  };
  const str = (): string => {
    ws();
    const quote = text[i];
    if (quote !== "'" && quote !== '"') fail(`header: expected a string at ${i}`);
    const end = text.indexOf(quote, i + 1);
    if (end < 0) fail("header: unterminated string");
    const s = text.slice(i + 1, end);
    i = end + 1;
    return s;
  };
  const value = (): Literal => {
    ws();
    if (text[i] === "'" || text[i] === '"') return str();
    if (text.startsWith("True", i)) return (i += 4), true;
    if (text.startsWith("False", i)) return (i += 5), false;
    if (text[i] === "[") {
      fail(`dtype is a structured (record) type; ${SUPPORTED}`, "invalid");
    }
    if (text[i] !== "(") fail(`header: unexpected value at ${i}`);
    i++;
    const dims: number[] = [];
    while (true) {
      ws();
      if (text[i] === ")") break;
      const m = /^\d{1,16}L?/.exec(text.slice(i, i + 18));
      if (!m) fail(`header: shape entry at ${i} is not a non-negative integer`);
      dims.push(Number(m[0].replace("L", "")));
      i += m[0].length;
      ws();
      if (text[i] === ",") i++;
      else if (text[i] !== ")") fail(`header: expected ',' or ')' at ${i}`);
    }
    i++;
    return dims;
  };
  const out = new Map<string, Literal>();
  expect("{");
  while (true) {
    ws();
    if (text[i] === "}") break;
    const key = str();
    expect(":");
    if (out.has(key)) fail(`header: duplicate key ${key}`);
    out.set(key, value());
    ws();
    if (text[i] === ",") i++;
    else if (text[i] !== "}") fail(`header: expected ',' or '}' at ${i}`);
  }
  i++;
  ws();
  if (i !== text.length) fail("header: trailing characters after the dict");
  return out;
}

const SUPPORTED = "send float (f2, f4, f8), integer (i1..i8, u1..u8) or bool (b1) arrays";

function parseDescr(
  descr: string,
): Pick<NpyHeader, "dtype" | "int" | "littleEndian" | "elementSize"> {
  const m = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(descr);
  if (!m) fail(`dtype ${JSON.stringify(descr)} is not supported; ${SUPPORTED}`, "invalid");
  const [, order, kind, digits] = m;
  const size = Number(digits);
  const littleEndian = order !== ">";
  if (kind === "f" && (size === 2 || size === 4 || size === 8)) {
    const dtype: DType = size === 2 ? "F16" : size === 4 ? "F32" : "F64";
    return { dtype, int: null, littleEndian, elementSize: size };
  }
  if ((kind === "i" || kind === "u") && [1, 2, 4, 8].includes(size)) {
    return { dtype: null, int: { signed: kind === "i", size }, littleEndian, elementSize: size };
  }
  if (kind === "b" && size === 1) {
    return { dtype: null, int: { signed: false, size, bool: true }, littleEndian, elementSize: 1 };
  }
  fail(`dtype ${descr} is not supported; ${SUPPORTED}`, "invalid");
}

/**
 * Parse the header at the start of `bytes` (which needs to hold at least the whole header).
 * Bounds: header length, shape rank (at most 8) and element count (a safe integer).
 */
export function parseNpyHeader(bytes: Uint8Array): NpyHeader {
  if (bytes.byteLength < 10 || NPY_MAGIC.some((b, i) => bytes[i] !== b)) {
    fail("not an .npy file (bad magic)");
  }
  const version = bytes[6];
  if (version < 1 || version > 3) fail(`format version ${version}.${bytes[7]} is not supported`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start: number;
  let length: number;
  if (version === 1) {
    start = 10;
    length = view.getUint16(8, true);
  } else {
    if (bytes.byteLength < 12) fail("truncated header");
    start = 12;
    length = view.getUint32(8, true);
  }
  if (length > MAX_NPY_HEADER_BYTES) {
    fail(`header of ${length} bytes is over the ${MAX_NPY_HEADER_BYTES}-byte limit`);
  }
  if (start + length > bytes.byteLength) fail("truncated header");
  let text: string;
  try {
    text = new TextDecoder(version === 3 ? "utf-8" : "latin1", { fatal: true }).decode(
      bytes.subarray(start, start + length),
    );
  } catch {
    fail("header is not valid text");
  }
  const dict = parseDictLiteral(text);
  const descr = dict.get("descr");
  const fortranOrder = dict.get("fortran_order");
  const shape = dict.get("shape");
  if (typeof descr !== "string") {
    fail("header: descr must be a string (structured dtypes are not supported)");
  }
  if (typeof fortranOrder !== "boolean") fail("header: fortran_order must be True or False");
  if (!Array.isArray(shape)) fail("header: shape must be a tuple");
  if (dict.size !== 3) fail("header: unexpected keys");
  if (shape.length > 8) fail(`rank ${shape.length} is over the limit of 8`, "invalid");
  if (!Number.isSafeInteger(elementCount(shape) * 8)) {
    fail(`shape (${shape}) is too large`, "invalid");
  }
  return { version, descr, fortranOrder, shape, dataOffset: start + length, ...parseDescr(descr) };
}
