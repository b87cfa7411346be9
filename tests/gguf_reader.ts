/**
 * A defensive GGUF reader (versions 2 and 3, little-endian) for the tests: it parses what
 * domain/io/gguf.ts writes, bounds-checks every count, length and offset before using it and
 * reports malformed input as a FormatError ("gguf: ..."). F32 tensors come with their values.
 * @module
 */

import { FormatError } from "../domain/errors.ts";
import { GGML_TYPE_F32, GGUF_DEFAULT_ALIGNMENT, GGUF_TYPE } from "../domain/io/gguf.ts";

/** Largest tensor count `readGguf` accepts unless told otherwise. */
export const MAX_GGUF_TENSORS = 1 << 16;

/** Largest metadata pair count `readGguf` accepts unless told otherwise. */
export const MAX_GGUF_KV = 1 << 16;

/** Deepest nesting of array values `readGguf` accepts (the outermost array is depth 1). */
export const MAX_GGUF_ARRAY_DEPTH = 8;

/** Longest tensor name the spec allows, in bytes. */
const MAX_TENSOR_NAME_BYTES = 64;

/** Longest metadata key the spec allows, in bytes. */
const MAX_KEY_BYTES = 65535;

/** Most dimensions a ggml tensor has. */
const MAX_DIMS = 4;

/** The name of a metadata value type. */
export type GgufTypeName = keyof typeof GGUF_TYPE;

const TYPE_NAMES = Object.keys(GGUF_TYPE) as GgufTypeName[];

/** A decoded metadata value, tagged with its stored type. */
export type GgufValue =
  | {
    readonly type:
      | "uint8"
      | "int8"
      | "uint16"
      | "int16"
      | "uint32"
      | "int32"
      | "float32"
      | "float64";
    readonly value: number;
  }
  | { readonly type: "uint64" | "int64"; readonly value: bigint }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "string"; readonly value: string }
  | {
    readonly type: "array";
    readonly itemType: GgufTypeName;
    readonly value: readonly GgufValue[];
  };

/** One tensor's info record, with its decoded values when it is F32. */
export interface GgufTensor {
  /** Tensor name. */
  readonly name: string;
  /** Dimensions as stored: ggml order, innermost (contiguous) first. */
  readonly shape: readonly number[];
  /** ggml type id (0 is F32). */
  readonly type: number;
  /** Absolute file offset of the first byte. */
  readonly offset: number;
  /** Size of the tensor's data in bytes. */
  readonly byteLength: number;
  /** The values, for F32 tensors only. */
  readonly data?: Float32Array;
}

/** A parsed, validated GGUF file. */
export interface GgufFile {
  /** Format version (2 or 3). */
  readonly version: number;
  /** Metadata in file order. */
  readonly metadata: Map<string, GgufValue>;
  /** Tensor info records in file order. */
  readonly tensors: readonly GgufTensor[];
  /** Alignment in effect (`general.alignment`, or 32). */
  readonly alignment: number;
  /** Absolute file offset of the data section. */
  readonly dataOffset: number;
}

/** [elements per block, bytes per block] for the ggml types a GGUF file may hold. */
const GGML_BLOCKS: Record<number, readonly [number, number]> = {
  0: [1, 4], // F32
  1: [1, 2], // F16
  2: [32, 18], // Q4_0
  3: [32, 20], // Q4_1
  6: [32, 22], // Q5_0
  7: [32, 24], // Q5_1
  8: [32, 34], // Q8_0
  9: [32, 40], // Q8_1
  10: [256, 84], // Q2_K
  11: [256, 110], // Q3_K
  12: [256, 144], // Q4_K
  13: [256, 176], // Q5_K
  14: [256, 210], // Q6_K
  15: [256, 292], // Q8_K
  16: [256, 66], // IQ2_XXS
  17: [256, 74], // IQ2_XS
  18: [256, 98], // IQ3_XXS
  19: [256, 50], // IQ1_S
  20: [32, 18], // IQ4_NL
  21: [256, 110], // IQ3_S
  22: [256, 82], // IQ2_S
  23: [256, 136], // IQ4_XS
  24: [1, 1], // I8
  25: [1, 2], // I16
  26: [1, 4], // I32
  27: [1, 8], // I64
  28: [1, 8], // F64
  29: [256, 56], // IQ1_M
  30: [1, 2], // BF16
  34: [256, 54], // TQ1_0
  35: [256, 66], // TQ2_0
  39: [32, 17], // MXFP4
};

/** Bytes of a scalar value by type code (string and array excluded). */
const SCALAR_BYTES: Record<number, number> = {
  0: 1,
  1: 1,
  2: 2,
  3: 2,
  4: 4,
  5: 4,
  6: 4,
  7: 1,
  10: 8,
  11: 8,
  12: 8,
};

function fail(message: string, kind?: "invalid"): never {
  throw new FormatError("gguf", message, { kind });
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A bounds-checked little-endian cursor over the file. */
class Cursor {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  pos = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.#bytes.length - this.pos;
  }

  need(n: number, what: string): number {
    if (n > this.remaining) {
      fail(`${what} at byte ${this.pos} needs ${n} bytes, ${this.remaining} left`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u32(what: string): number {
    return this.#view.getUint32(this.need(4, what), true);
  }

  u64(what: string): bigint {
    return this.#view.getBigUint64(this.need(8, what), true);
  }

  /** A u64 that must fit a safe integer (a count, length or offset). */
  size(what: string): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} ${v} is too large`);
    return Number(v);
  }

  scalar(type: number, what: string): GgufValue {
    const at = this.need(SCALAR_BYTES[type], what);
    const v = this.#view;
    switch (type) {
      case GGUF_TYPE.uint8:
        return { type: "uint8", value: v.getUint8(at) };
      case GGUF_TYPE.int8:
        return { type: "int8", value: v.getInt8(at) };
      case GGUF_TYPE.uint16:
        return { type: "uint16", value: v.getUint16(at, true) };
      case GGUF_TYPE.int16:
        return { type: "int16", value: v.getInt16(at, true) };
      case GGUF_TYPE.uint32:
        return { type: "uint32", value: v.getUint32(at, true) };
      case GGUF_TYPE.int32:
        return { type: "int32", value: v.getInt32(at, true) };
      case GGUF_TYPE.float32:
        return { type: "float32", value: v.getFloat32(at, true) };
      case GGUF_TYPE.uint64:
        return { type: "uint64", value: v.getBigUint64(at, true) };
      case GGUF_TYPE.int64:
        return { type: "int64", value: v.getBigInt64(at, true) };
      case GGUF_TYPE.float64:
        return { type: "float64", value: v.getFloat64(at, true) };
      default: {
        const b = v.getUint8(at);
        if (b > 1) fail(`${what}: bool byte ${b} is neither 0 nor 1`);
        return { type: "bool", value: b === 1 };
      }
    }
  }

  string(what: string, maxBytes?: number): string {
    const length = this.size(`${what} length`);
    if (maxBytes !== undefined && length > maxBytes) {
      fail(`${what} of ${length} bytes is over the ${maxBytes}-byte limit`);
    }
    const at = this.need(length, what);
    try {
      return utf8.decode(this.#bytes.subarray(at, at + length));
    } catch {
      fail(`${what} at byte ${at} is not valid UTF-8`);
    }
  }

  f32s(at: number, count: number): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.#view.getFloat32(at + 4 * i, true);
    return out;
  }
}

/** The fewest bytes one array item of `type` occupies. */
function minItemBytes(type: number): number {
  if (type === GGUF_TYPE.string) return 8;
  if (type === GGUF_TYPE.array) return 12;
  return SCALAR_BYTES[type];
}

function typeName(type: number, what: string): GgufTypeName {
  if (!Number.isInteger(type) || type < 0 || type >= TYPE_NAMES.length) {
    fail(`${what} has unknown value type ${type}`);
  }
  return TYPE_NAMES[type];
}

function readValue(cur: Cursor, type: number, what: string, depth: number): GgufValue {
  if (type === GGUF_TYPE.string) return { type: "string", value: cur.string(what) };
  if (type !== GGUF_TYPE.array) return cur.scalar(type, what);
  if (depth >= MAX_GGUF_ARRAY_DEPTH) {
    fail(`${what}: arrays nested deeper than ${MAX_GGUF_ARRAY_DEPTH}`);
  }
  const itemType = cur.u32(`${what} item type`);
  const itemName = typeName(itemType, what);
  const count = cur.size(`${what} item count`);
  if (count * minItemBytes(itemType) > cur.remaining) {
    fail(`${what} claims ${count} items, more than the ${cur.remaining} bytes left can hold`);
  }
  const items: GgufValue[] = [];
  for (let i = 0; i < count; i++) items.push(readValue(cur, itemType, what, depth + 1));
  return { type: "array", itemType: itemName, value: items };
}

function readAlignment(metadata: Map<string, GgufValue>): number {
  const entry = metadata.get("general.alignment");
  if (entry === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (entry.type !== "uint32") fail(`general.alignment must be a uint32, is ${entry.type}`);
  if (!isPowerOfTwo(entry.value)) fail(`general.alignment ${entry.value} is not a power of 2`);
  return entry.value;
}

interface TensorInfo {
  name: string;
  shape: number[];
  type: number;
  relative: number;
}

function readTensorInfo(cur: Cursor, index: number, names: Set<string>): TensorInfo {
  const what = `tensor ${index}`;
  const name = cur.string(`${what} name`, MAX_TENSOR_NAME_BYTES);
  if (names.has(name)) fail(`duplicate tensor name ${JSON.stringify(name)}`);
  names.add(name);
  const nDims = cur.u32(`${what} dimension count`);
  if (nDims > MAX_DIMS) fail(`tensor ${name} has ${nDims} dimensions, more than ${MAX_DIMS}`);
  const shape: number[] = [];
  for (let d = 0; d < nDims; d++) shape.push(cur.size(`tensor ${name} dimension ${d}`));
  const type = cur.u32(`tensor ${name} type`);
  const relative = cur.size(`tensor ${name} offset`);
  return { name, shape, type, relative };
}

function tensorBytes(info: TensorInfo): number {
  const block = GGML_BLOCKS[info.type];
  if (!block) fail(`tensor ${info.name} has unknown ggml type ${info.type}`, "invalid");
  let count = 1;
  for (const d of info.shape) {
    count *= d;
    if (!Number.isSafeInteger(count)) fail(`tensor ${info.name} has too many elements`);
  }
  const [perBlock, blockBytes] = block;
  if ((info.shape[0] ?? 1) % perBlock !== 0) {
    fail(
      `tensor ${info.name}: ${
        info.shape[0] ?? 1
      } elements per row is not a multiple of ${perBlock}`,
    );
  }
  const bytes = (count / perBlock) * blockBytes;
  if (!Number.isSafeInteger(bytes)) fail(`tensor ${info.name} is too large`);
  return bytes;
}

/** Parse and validate a whole GGUF file held in memory; F32 tensors come with their values. */
export function readGguf(
  bytes: Uint8Array,
  options?: { maxTensors?: number; maxKv?: number },
): GgufFile {
  const cur = new Cursor(bytes);
  cur.need(4, "magic");
  if (bytes[0] !== 0x47 || bytes[1] !== 0x47 || bytes[2] !== 0x55 || bytes[3] !== 0x46) {
    fail("bad magic, not a GGUF file");
  }
  const version = cur.u32("version");
  if (version !== 2 && version !== 3) {
    const hint = (version & 0xffff) === 0 ? " (a big-endian file?)" : "";
    fail(`unsupported version ${version}${hint}; only 2 and 3 are read`, "invalid");
  }
  const maxTensors = options?.maxTensors ?? MAX_GGUF_TENSORS;
  const maxKv = options?.maxKv ?? MAX_GGUF_KV;
  const tensorCount = cur.size("tensor count");
  const kvCount = cur.size("metadata count");
  if (tensorCount > maxTensors) fail(`${tensorCount} tensors is over the limit of ${maxTensors}`);
  if (kvCount > maxKv) fail(`${kvCount} metadata pairs is over the limit of ${maxKv}`);
  // A pair takes at least 8 + 4 + 1 bytes, a tensor info at least 8 + 4 + 4 + 8.
  if (kvCount * 13 + tensorCount * 24 > cur.remaining) {
    fail(`${kvCount} metadata pairs and ${tensorCount} tensors cannot fit in the file`);
  }

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = cur.string(`metadata key ${i}`, MAX_KEY_BYTES);
    if (key.length === 0) fail(`metadata key ${i} is empty`);
    if (metadata.has(key)) fail(`duplicate metadata key ${JSON.stringify(key)}`);
    const type = cur.u32(`metadata ${key} type`);
    typeName(type, `metadata ${key}`);
    metadata.set(key, readValue(cur, type, `metadata ${key}`, 0));
  }
  const alignment = readAlignment(metadata);

  const names = new Set<string>();
  const infos: TensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) infos.push(readTensorInfo(cur, i, names));

  const dataOffset = alignUp(cur.pos, alignment);
  if (tensorCount > 0 && dataOffset > bytes.length) {
    fail(`data section at byte ${dataOffset} starts past the end of the ${bytes.length}-byte file`);
  }
  const tensors = infos.map((info): GgufTensor => {
    const byteLength = tensorBytes(info);
    if (info.relative % alignment !== 0) {
      fail(`tensor ${info.name} offset ${info.relative} is not a multiple of ${alignment}`);
    }
    const offset = dataOffset + info.relative;
    if (offset + byteLength > bytes.length) {
      fail(`tensor ${info.name} (${byteLength} bytes at ${offset}) runs past the end of the file`);
    }
    const base = { name: info.name, shape: info.shape, type: info.type, offset, byteLength };
    if (info.type !== GGML_TYPE_F32) return base;
    return { ...base, data: cur.f32s(offset, byteLength / 4) };
  });
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (sorted[i].offset < prev.offset + prev.byteLength) {
      fail(`tensors ${prev.name} and ${sorted[i].name} overlap`);
    }
  }
  return { version, metadata, tensors, alignment, dataOffset };
}

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}
