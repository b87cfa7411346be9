/**
 * GGUF (versions 2 and 3, little-endian): llama.cpp's container. A header ("GGUF", a u32
 * version, u64 tensor and metadata counts), typed metadata key/value pairs, one info record
 * per tensor (name, dims innermost first, ggml type, offset into the data section), then the
 * data section, which starts and places every tensor on a multiple of `general.alignment`
 * (32 when absent). This module writes llama.cpp control vectors; a defensive reader that
 * checks what it writes lives with the tests (tests/gguf_reader.ts).
 * @module
 */

/** Version this module writes. */
export const GGUF_VERSION = 3;

/** Alignment of the data section and of each tensor when `general.alignment` is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** ggml type id of a 32-bit float tensor. */
export const GGML_TYPE_F32 = 0;

/** Metadata value type codes as the GGUF spec numbers them. */
export const GGUF_TYPE = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Largest layer number llama.cpp parses from a `direction.N` name (a C int). */
const MAX_LAYER = 2 ** 31 - 1;

/** Largest alignment the writer accepts. */
const MAX_ALIGNMENT = 1 << 16;

function checkDirections(directions: Map<number, Float32Array>): number {
  if (directions.size === 0) throw new RangeError("a control vector needs at least one direction");
  let nEmbd = -1;
  for (const [layer, v] of directions) {
    if (!Number.isInteger(layer) || layer < 1 || layer > MAX_LAYER) {
      throw new RangeError(
        `layer ${layer} is not an integer in [1, ${MAX_LAYER}] (llama.cpp cannot steer layer 0)`,
      );
    }
    if (v.length === 0) throw new RangeError(`direction for layer ${layer} is empty`);
    if (nEmbd === -1) nEmbd = v.length;
    if (v.length !== nEmbd) {
      throw new RangeError(
        `direction for layer ${layer} has ${v.length} values, expected ${nEmbd}`,
      );
    }
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) {
        throw new RangeError(`direction for layer ${layer} has a non-finite value at ${i}`);
      }
    }
  }
  return nEmbd;
}

/** A metadata pair to write: a string or a uint32 value. */
type Kv = [key: string, type: "string", value: string] | [
  key: string,
  type: "uint32",
  value: number,
];

/**
 * Write a llama.cpp control vector: one 1-D F32 tensor `direction.{layer}` per entry (layers
 * from 1, ascending), with the `controlvector` architecture metadata.
 */
export function encodeControlVector(
  directions: Map<number, Float32Array>,
  options?: { modelHint?: string; alignment?: number },
): Uint8Array<ArrayBuffer> {
  const nEmbd = checkDirections(directions);
  const alignment = options?.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  if (!isPowerOfTwo(alignment) || alignment < 8 || alignment > MAX_ALIGNMENT) {
    throw new RangeError(`alignment ${alignment} is not a power of 2 in [8, ${MAX_ALIGNMENT}]`);
  }
  const enc = new TextEncoder();
  const kv: Kv[] = [["general.architecture", "string", "controlvector"]];
  if (options?.modelHint !== undefined) {
    kv.push(["controlvector.model_hint", "string", options.modelHint]);
  }
  kv.push(["controlvector.layer_count", "uint32", directions.size]);
  if (alignment !== GGUF_DEFAULT_ALIGNMENT) kv.push(["general.alignment", "uint32", alignment]);
  const layers = [...directions.keys()].sort((a, b) => a - b);
  const names = layers.map((l) => enc.encode(`direction.${l}`));
  const kvBytes = kv.map(([key, type, value]) => ({
    key: enc.encode(key),
    code: GGUF_TYPE[type],
    value: type === "string" ? enc.encode(value) : value,
  }));

  const tensorBytes = nEmbd * 4;
  const stride = alignUp(tensorBytes, alignment);
  let headerSize = 4 + 4 + 8 + 8;
  for (const { key, value } of kvBytes) {
    headerSize += 8 + key.length + 4 + (typeof value === "number" ? 4 : 8 + value.length);
  }
  for (const name of names) headerSize += 8 + name.length + 4 + 8 + 4 + 8;
  const dataOffset = alignUp(headerSize, alignment);
  // Every tensor, the last included, is padded to the alignment: llama.cpp reads the padded size.
  const out = new Uint8Array(dataOffset + stride * layers.length);
  const view = new DataView(out.buffer);
  let at = 0;
  const bytes = (b: Uint8Array) => {
    out.set(b, at);
    at += b.length;
  };
  const u32 = (n: number) => {
    view.setUint32(at, n, true);
    at += 4;
  };
  const u64 = (n: number) => {
    view.setBigUint64(at, BigInt(n), true);
    at += 8;
  };
  const str = (b: Uint8Array) => {
    u64(b.length);
    bytes(b);
  };
  bytes(enc.encode("GGUF"));
  u32(GGUF_VERSION);
  u64(layers.length);
  u64(kv.length);
  for (const { key, code, value } of kvBytes) {
    str(key);
    u32(code);
    if (typeof value === "number") u32(value);
    else str(value);
  }
  names.forEach((name, i) => {
    str(name);
    u32(1);
    u64(nEmbd);
    u32(GGML_TYPE_F32);
    u64(i * stride);
  });
  layers.forEach((layer, i) => {
    const v = directions.get(layer)!;
    const base = dataOffset + i * stride;
    for (let j = 0; j < nEmbd; j++) view.setFloat32(base + 4 * j, v[j], true);
  });
  return out;
}
