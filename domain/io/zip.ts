/**
 * Zip archives as npz uses them: the central directory (ZIP64 included) is read from the end
 * of the file, and a member streams out STORED or DEFLATE-decompressed with its size and
 * CRC-32 checked as the bytes flow, so a decompression bomb or a corrupt member fails instead
 * of filling memory or yielding wrong numbers.
 * @module
 */

import { type ByteSource, readRange } from "./byte_source.ts";
import { crc32 } from "./crc32.ts";
import { FormatError, SaeError } from "../errors.ts";

/** Largest central directory read (bytes). */
export const MAX_DIRECTORY_BYTES = 16 << 20;
/** Most members accepted. */
export const MAX_ENTRIES = 65536;

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const U32_MAX = 0xffffffff;

/** One member as the central directory describes it. */
export interface ZipEntry {
  /** Path inside the archive. */
  readonly name: string;
  /** 0 = STORED, 8 = DEFLATE. */
  readonly method: number;
  /** Bytes stored in the archive. */
  readonly compressedSize: number;
  /** Bytes after decompression. */
  readonly uncompressedSize: number;
  /** Offset of the member's local header. */
  readonly localHeaderOffset: number;
  /** CRC-32 of the uncompressed bytes. */
  readonly crc32: number;
}

function fail(message: string): never {
  throw new FormatError("zip", message);
}

function u64(view: DataView, at: number): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail("a 64-bit size or offset is too large");
  return Number(v);
}

/** Locate the end-of-central-directory record and return (entries, size, offset) of the directory. */
async function findDirectory(
  source: ByteSource,
): Promise<{ count: number; size: number; offset: number }> {
  if (source.size < 22) fail(`file of ${source.size} bytes is too short to be a zip`);
  const tailLength = Math.min(source.size, 22 + 0xffff);
  const tailStart = source.size - tailLength;
  const tail = await readRange(source, { offset: tailStart, length: tailLength });
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let at = -1;
  for (let i = tail.byteLength - 22; i >= 0; i--) {
    if (
      view.getUint32(i, true) === EOCD && i + 22 + view.getUint16(i + 20, true) === tail.byteLength
    ) {
      at = i;
      break;
    }
  }
  if (at < 0) fail("no end-of-central-directory record (not a zip file, or truncated)");
  if (view.getUint16(at + 4, true) !== 0 || view.getUint16(at + 6, true) !== 0) {
    fail("multi-disk archives are not supported");
  }
  let count = view.getUint16(at + 10, true);
  let size = view.getUint32(at + 12, true);
  let offset = view.getUint32(at + 16, true);
  if (count === 0xffff || size === U32_MAX || offset === U32_MAX) {
    // ZIP64: a locator sits just before the EOCD and points at the ZIP64 EOCD record.
    const locatorAt = tailStart + at - 20;
    if (locatorAt < 0) fail("ZIP64 locator missing");
    const locator = new DataView(
      (await readRange(source, { offset: locatorAt, length: 20 })).buffer,
    );
    if (locator.getUint32(0, true) !== EOCD64_LOCATOR) fail("ZIP64 locator missing");
    const recordAt = u64(locator, 8);
    if (recordAt + 56 > locatorAt) fail("ZIP64 end record outside the file");
    const record = new DataView((await readRange(source, { offset: recordAt, length: 56 })).buffer);
    if (record.getUint32(0, true) !== EOCD64) fail("bad ZIP64 end record signature");
    count = u64(record, 32);
    size = u64(record, 40);
    offset = u64(record, 48);
  }
  if (count > MAX_ENTRIES) fail(`${count} entries is over the limit of ${MAX_ENTRIES}`);
  if (size > MAX_DIRECTORY_BYTES) fail(`central directory of ${size} bytes is over the limit`);
  if (offset + size > source.size) fail("central directory runs past the end of the file");
  return { count, size, offset };
}

/** Read and validate the central directory. Names are unique; every member lies inside the file. */
export async function readZipDirectory(source: ByteSource): Promise<ZipEntry[]> {
  const { count, size, offset } = await findDirectory(source);
  const bytes = await readRange(source, { offset, length: size });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const names = new TextDecoder("utf-8", { fatal: false });
  const entries: ZipEntry[] = [];
  const seen = new Set<string>();
  let at = 0;
  for (let n = 0; n < count; n++) {
    if (at + 46 > size || view.getUint32(at, true) !== CENTRAL) {
      fail(`central directory entry ${n} is malformed`);
    }
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    let compressedSize = view.getUint32(at + 20, true);
    let uncompressedSize = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    let localHeaderOffset = view.getUint32(at + 42, true);
    const end = at + 46 + nameLength + extraLength + commentLength;
    if (end > size) fail(`central directory entry ${n} runs past the directory`);
    const name = names.decode(bytes.subarray(at + 46, at + 46 + nameLength));
    if (flags & 1) fail(`${name} is encrypted`);
    // ZIP64 extended information: 64-bit values for exactly the fields saturated above.
    let e = at + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = view.getUint16(e, true);
      const length = view.getUint16(e + 2, true);
      if (e + 4 + length > extraEnd) fail(`${name}: extra field runs past its entry`);
      if (id === 0x0001) {
        let f = e + 4;
        const take = () => {
          if (f + 8 > e + 4 + length) fail(`${name}: ZIP64 field too short`);
          const v = u64(view, f);
          f += 8;
          return v;
        };
        if (uncompressedSize === U32_MAX) uncompressedSize = take();
        if (compressedSize === U32_MAX) compressedSize = take();
        if (localHeaderOffset === U32_MAX) localHeaderOffset = take();
      }
      e += 4 + length;
    }
    if (seen.has(name)) fail(`duplicate member ${name}`);
    seen.add(name);
    if (localHeaderOffset + 30 + compressedSize > source.size) {
      fail(`${name} runs past the end of the file`);
    }
    if (method === 0 && compressedSize !== uncompressedSize) {
      fail(`${name} is STORED but its sizes differ`);
    }
    entries.push({ name, method, compressedSize, uncompressedSize, localHeaderOffset, crc32: crc });
    at = end;
  }
  return entries;
}

/**
 * Guard a member's uncompressed stream: error as soon as it yields more than declared (a
 * bomb), and at its end unless the size and CRC-32 both match the directory.
 */
function guarded(entry: ZipEntry): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  let crc = 0;
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > entry.uncompressedSize) {
        controller.error(
          new FormatError(
            "zip",
            `${entry.name} inflates past its declared ${entry.uncompressedSize} bytes`,
          ),
        );
        return;
      }
      crc = crc32(chunk, crc);
      controller.enqueue(chunk);
    },
    flush(controller) {
      if (seen !== entry.uncompressedSize) {
        controller.error(
          new FormatError(
            "zip",
            `${entry.name} holds ${seen} bytes, not the declared ${entry.uncompressedSize}`,
          ),
        );
      } else if (crc !== entry.crc32) {
        controller.error(
          new FormatError("zip", `${entry.name} fails its CRC-32 check (corrupt archive)`),
        );
      }
    },
  });
}

/** Stream a member's uncompressed bytes (STORED or DEFLATE), size- and CRC-checked. */
export async function openZipEntry(
  source: ByteSource,
  entry: ZipEntry,
): Promise<ReadableStream<Uint8Array>> {
  const local = new DataView(
    (await readRange(source, { offset: entry.localHeaderOffset, length: 30 })).buffer,
  );
  if (local.getUint32(0, true) !== LOCAL) fail(`${entry.name}: bad local header signature`);
  const dataStart = entry.localHeaderOffset + 30 + local.getUint16(26, true) +
    local.getUint16(28, true);
  if (dataStart + entry.compressedSize > source.size) {
    fail(`${entry.name} runs past the end of the file`);
  }
  if (entry.method !== 0 && entry.method !== 8) {
    throw new FormatError(
      "zip",
      `${entry.name} uses compression method ${entry.method}; only STORED and DEFLATE are read`,
      {
        kind: "invalid",
      },
    );
  }
  const raw = await source.stream(dataStart, entry.compressedSize);
  const inflated = entry.method === 8
    ? raw.pipeThrough(
      new DecompressionStream("deflate-raw") as unknown as TransformStream<Uint8Array, Uint8Array>,
    )
    : raw;
  return withFormatErrors(inflated.pipeThrough(guarded(entry)), entry.name);
}

/** Pass chunks through, reporting errors that are not already SaeErrors (inflate's) as FormatError. */
function withFormatErrors(
  stream: ReadableStream<Uint8Array>,
  name: string,
): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        controller.error(
          e instanceof SaeError ? e : new FormatError("zip", `${name}: corrupt data (${message})`),
        );
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** One member to write. */
export interface ZipInput {
  /** Path inside the archive. */
  name: string;
  /** Uncompressed bytes. */
  data: Uint8Array;
}

async function deflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(
    new CompressionStream("deflate-raw"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Write a zip archive. `compress` deflates members (as np.savez_compressed does); `zip64`
 * writes ZIP64 records even for small archives (as numpy does for large ones).
 */
export async function encodeZip(
  entries: ZipInput[],
  options?: { compress?: boolean; zip64?: boolean },
): Promise<Uint8Array<ArrayBuffer>> {
  const zip64 = options?.zip64 ?? false;
  const enc = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = enc.encode(entry.name);
    const stored = options?.compress ? await deflate(entry.data) : entry.data;
    const method = options?.compress ? 8 : 0;
    const crc = crc32(entry.data);
    const extraLength = zip64 ? 4 + 24 : 0;
    const local = new Uint8Array(30 + name.byteLength + (zip64 ? 20 : 0));
    const lv = new DataView(local.buffer);
    lv.setUint32(0, LOCAL, true);
    lv.setUint16(4, zip64 ? 45 : 20, true);
    lv.setUint16(8, method, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, zip64 ? U32_MAX : stored.byteLength, true);
    lv.setUint32(22, zip64 ? U32_MAX : entry.data.byteLength, true);
    lv.setUint16(26, name.byteLength, true);
    lv.setUint16(28, zip64 ? 20 : 0, true);
    local.set(name, 30);
    if (zip64) {
      const x = 30 + name.byteLength;
      lv.setUint16(x, 1, true);
      lv.setUint16(x + 2, 16, true);
      lv.setBigUint64(x + 4, BigInt(entry.data.byteLength), true);
      lv.setBigUint64(x + 12, BigInt(stored.byteLength), true);
    }
    const central = new Uint8Array(46 + name.byteLength + extraLength);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, CENTRAL, true);
    cv.setUint16(4, zip64 ? 45 : 20, true);
    cv.setUint16(6, zip64 ? 45 : 20, true);
    cv.setUint16(10, method, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, zip64 ? U32_MAX : stored.byteLength, true);
    cv.setUint32(24, zip64 ? U32_MAX : entry.data.byteLength, true);
    cv.setUint16(28, name.byteLength, true);
    cv.setUint16(30, extraLength, true);
    cv.setUint32(42, zip64 ? U32_MAX : offset, true);
    central.set(name, 46);
    if (zip64) {
      const x = 46 + name.byteLength;
      cv.setUint16(x, 1, true);
      cv.setUint16(x + 2, 24, true);
      cv.setBigUint64(x + 4, BigInt(entry.data.byteLength), true);
      cv.setBigUint64(x + 12, BigInt(stored.byteLength), true);
      cv.setBigUint64(x + 20, BigInt(offset), true);
    }
    locals.push(local, stored);
    centrals.push(central);
    offset += local.byteLength + stored.byteLength;
  }
  const directoryOffset = offset;
  const directorySize = centrals.reduce((s, c) => s + c.byteLength, 0);
  const tail: Uint8Array[] = [];
  if (zip64) {
    const record = new Uint8Array(56);
    const rv = new DataView(record.buffer);
    rv.setUint32(0, EOCD64, true);
    rv.setBigUint64(4, 44n, true);
    rv.setUint16(12, 45, true);
    rv.setUint16(14, 45, true);
    rv.setBigUint64(24, BigInt(entries.length), true);
    rv.setBigUint64(32, BigInt(entries.length), true);
    rv.setBigUint64(40, BigInt(directorySize), true);
    rv.setBigUint64(48, BigInt(directoryOffset), true);
    const locator = new Uint8Array(20);
    const lv = new DataView(locator.buffer);
    lv.setUint32(0, EOCD64_LOCATOR, true);
    lv.setBigUint64(8, BigInt(directoryOffset + directorySize), true);
    lv.setUint32(16, 1, true);
    tail.push(record, locator);
  }
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, EOCD, true);
  ev.setUint16(8, zip64 ? 0xffff : entries.length, true);
  ev.setUint16(10, zip64 ? 0xffff : entries.length, true);
  ev.setUint32(12, zip64 ? U32_MAX : directorySize, true);
  ev.setUint32(16, zip64 ? U32_MAX : directoryOffset, true);
  tail.push(end);
  const parts = [...locals, ...centrals, ...tail];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
