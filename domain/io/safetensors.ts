/**
 * safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's
 * dtype, shape and byte range, then the raw data. The header is bounded and every entry is
 * checked (known dtype, shape matching its byte range, ranges inside the file and disjoint)
 * before any tensor byte is read.
 * @module
 */

import { type ByteSource, readRange } from "./byte_source.ts";
import { type DType, f32ToBytes, isDType, streamToF32 } from "./dtype.ts";
import { FormatError } from "../errors.ts";
import { elementCount, type Tensor } from "../sae/tensor.ts";

/** Largest header accepted (the format's own limit). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** One tensor's entry in the header; `begin` and `end` are absolute file offsets. */
export interface SafetensorsEntry {
  /** Element type as named in the file (F32, F16, BF16, F64 are loadable). */
  readonly dtype: string;
  /** Dimensions. */
  readonly shape: readonly number[];
  /** First byte in the file. */
  readonly begin: number;
  /** One past the last byte in the file. */
  readonly end: number;
}

/** A parsed, validated header. */
export interface SafetensorsHeader {
  /** Tensors by name. */
  readonly tensors: Map<string, SafetensorsEntry>;
  /** The optional `__metadata__` string map. */
  readonly metadata: Record<string, string>;
  /** File offset where the data region starts. */
  readonly dataStart: number;
}

/** Sizes in bytes of the dtypes safetensors defines, loadable or not. */
const ELEMENT_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

function fail(message: string): never {
  throw new FormatError("safetensors", message);
}

function parseEntry(
  name: string,
  raw: unknown,
  dataSize: number,
  dataStart: number,
): SafetensorsEntry {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    fail(`entry ${name} is not an object`);
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== "string" || !(dtype in ELEMENT_BYTES)) {
    fail(`tensor ${name} has unknown dtype ${dtype}`);
  }
  if (
    !Array.isArray(shape) || shape.length > 8 ||
    !shape.every((d) => Number.isSafeInteger(d) && d >= 0)
  ) {
    fail(`tensor ${name} has an invalid shape`);
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
  ) {
    fail(`tensor ${name} has invalid data_offsets`);
  }
  const [b, e] = offsets as number[];
  if (b > e || e > dataSize) {
    fail(`tensor ${name} data_offsets [${b}, ${e}] outside the ${dataSize}-byte data region`);
  }
  const bytes = elementCount(shape) * ELEMENT_BYTES[dtype];
  if (bytes !== e - b) {
    fail(`tensor ${name} of shape [${shape}] ${dtype} needs ${bytes} bytes, has ${e - b}`);
  }
  return { dtype, shape: shape as number[], begin: dataStart + b, end: dataStart + e };
}

/** Parse header bytes (the JSON after the length prefix) for a file of `fileSize` bytes. */
export function parseSafetensorsHeader(json: Uint8Array, fileSize: number): SafetensorsHeader {
  const dataStart = 8 + json.byteLength;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch {
    fail("header is not valid UTF-8 JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    fail("header is not a JSON object");
  }
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        fail("__metadata__ is not an object");
      }
      if (!Object.values(raw).every((v) => typeof v === "string")) {
        fail("__metadata__ values must be strings");
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    tensors.set(name, parseEntry(name, raw, fileSize - dataStart, dataStart));
  }
  const sorted = [...tensors].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  for (let i = 1; i < sorted.length; i++) {
    const [prevName, prev] = sorted[i - 1];
    const [name, entry] = sorted[i];
    if (entry.begin < prev.end) fail(`tensors ${prevName} and ${name} overlap`);
  }
  return { tensors, metadata, dataStart };
}

/** Read and validate the header of a safetensors file. */
export async function readSafetensorsHeader(
  source: ByteSource,
  options?: { maxHeaderBytes?: number },
): Promise<SafetensorsHeader> {
  if (source.size < 8) fail(`file of ${source.size} bytes is too short`);
  const prefix = new DataView((await readRange(source, { offset: 0, length: 8 })).buffer);
  const length = prefix.getBigUint64(0, true);
  const max = options?.maxHeaderBytes ?? MAX_HEADER_BYTES;
  if (length > BigInt(max)) fail(`header of ${length} bytes is over the ${max}-byte limit`);
  if (length > BigInt(source.size - 8)) {
    fail(`header of ${length} bytes runs past the end of the file`);
  }
  const json = await readRange(source, { offset: 8, length: Number(length) });
  return parseSafetensorsHeader(json, source.size);
}

/** Load one tensor as f32 (F32, F16, BF16 or F64; other dtypes are an "invalid" FormatError). */
export async function loadSafetensorsTensor(
  source: ByteSource,
  tensor: { header: SafetensorsHeader; name: string },
): Promise<Tensor> {
  const { header, name } = tensor;
  const entry = header.tensors.get(name);
  if (!entry) fail(`missing tensor ${name}`);
  if (!isDType(entry.dtype)) {
    throw new FormatError(
      "safetensors",
      `tensor ${name} has dtype ${entry.dtype}; only F32, F16, BF16, F64 load`,
      {
        kind: "invalid",
      },
    );
  }
  const data = await streamToF32(await source.stream(entry.begin, entry.end - entry.begin), {
    dtype: entry.dtype,
    littleEndian: true,
    count: elementCount(entry.shape),
  });
  return { shape: entry.shape, data };
}

/** A tensor to write: f32 values stored as `dtype` (F32 when omitted). */
export interface TensorToWrite {
  /** Dimensions. */
  shape: readonly number[];
  /** Values in row-major order. */
  data: Float32Array;
  /** Stored element type. */
  dtype?: DType;
}

/** Serialize tensors (in the given order) to safetensors bytes. */
export function encodeSafetensors(
  tensors: Record<string, TensorToWrite>,
  options?: { metadata?: Record<string, string> },
): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = {};
  if (options?.metadata) header.__metadata__ = options.metadata;
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const dtype = t.dtype ?? "F32";
    if (t.data.length !== elementCount(t.shape)) {
      throw new RangeError(`${name}: data length does not match shape`);
    }
    const bytes = f32ToBytes(t.data, dtype);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  const raw = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so the data region starts 8-byte aligned.
  const jsonBytes = new Uint8Array(raw.byteLength + ((8 - (raw.byteLength % 8)) % 8)).fill(0x20);
  jsonBytes.set(raw);
  const out = new Uint8Array(8 + jsonBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(jsonBytes.byteLength), true);
  out.set(jsonBytes, 8);
  let at = 8 + jsonBytes.byteLength;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
