/**
 * .npz answers: a zip of .npy members, stored (what saeserve and np.savez write) or deflated
 * (np.savez_compressed), ZIP64 when large; each member's CRC is checked. The client package stands
 * alone, so this is its own small reader rather than the service's domain/io/zip.ts.
 * @module
 */

import { concatBytes } from "./concat_bytes.ts";

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX32 = 0xffffffff;

let crcTable: Uint32Array | undefined;

/** CRC-32 (the zip polynomial) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  const table = crcTable ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function corrupt(why: string): Error {
  return new Error(`not a readable .npz: ${why}`);
}

/** One member as listed by the central directory. */
interface Member {
  name: string;
  method: number;
  crc: number;
  compressed: number;
  size: number;
  local: number;
}

/** The central directory's members. */
function members(bytes: Uint8Array, view: DataView): Member[] {
  let end = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 65535); at--) {
    // The record ends the file exactly (its comment may hold the signature's bytes too).
    if (
      view.getUint32(at, true) === EOCD && at + 22 + view.getUint16(at + 20, true) === bytes.length
    ) {
      end = at;
      break;
    }
  }
  if (end < 0) throw corrupt("no end of central directory");
  let count = view.getUint16(end + 10, true);
  let offset = view.getUint32(end + 16, true);
  if (count === 0xffff || offset === MAX32) {
    if (end < 20 || view.getUint32(end - 20, true) !== ZIP64_LOCATOR) {
      throw corrupt("no ZIP64 end of central directory");
    }
    const at = Number(view.getBigUint64(end - 12, true));
    if (at + 56 > bytes.length || view.getUint32(at, true) !== ZIP64_EOCD) {
      throw corrupt("a bad ZIP64 end of central directory");
    }
    count = Number(view.getBigUint64(at + 32, true));
    offset = Number(view.getBigUint64(at + 48, true));
  }
  const out: Member[] = [];
  let at = offset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== CENTRAL) {
      throw corrupt("a bad central directory entry");
    }
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const member: Member = {
      name: new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength)),
      method: view.getUint16(at + 10, true),
      crc: view.getUint32(at + 16, true),
      compressed: view.getUint32(at + 20, true),
      size: view.getUint32(at + 24, true),
      local: view.getUint32(at + 42, true),
    };
    // ZIP64 extra field: the 64-bit values, in this order, of the fields that hold 0xffffffff.
    for (let x = at + 46 + nameLength; x + 4 <= at + 46 + nameLength + extraLength;) {
      const tag = view.getUint16(x, true), length = view.getUint16(x + 2, true);
      if (tag === 1) {
        let v = x + 4;
        for (const key of ["size", "compressed", "local"] as const) {
          if (member[key] === MAX32 && v + 8 <= x + 4 + length) {
            member[key] = Number(view.getBigUint64(v, true));
            v += 8;
          }
        }
      }
      x += 4 + length;
    }
    out.push(member);
    at += 46 + nameLength + extraLength + view.getUint16(at + 32, true);
  }
  return out;
}

/** Inflate a raw deflate stream, stopping once it passes `limit` bytes. */
async function inflate(data: Uint8Array<ArrayBuffer>, limit: number): Promise<Uint8Array> {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const part of stream) {
    size += part.byteLength;
    if (size > limit) throw corrupt("a member inflates past its declared size");
    parts.push(part);
  }
  return concatBytes(parts);
}

/**
 * The .npy members of an .npz, by array name (the member name less ".npy"), as bytes for
 * `decodeNpy` / `decodeNpyInt32`; stored members are views of `bytes`.
 */
export async function decodeNpz(bytes: Uint8Array): Promise<Map<string, Uint8Array>> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let list: Member[];
  try {
    list = members(bytes, view);
  } catch (e) {
    if (e instanceof RangeError) throw corrupt("the central directory is cut off");
    throw e;
  }
  const out = new Map<string, Uint8Array>();
  for (const m of list) {
    if (!m.name.endsWith(".npy")) continue;
    if (m.local + 30 > bytes.length || view.getUint32(m.local, true) !== LOCAL) {
      throw corrupt(`a bad local header for ${m.name}`);
    }
    const start = m.local + 30 + view.getUint16(m.local + 26, true) +
      view.getUint16(m.local + 28, true);
    if (start + m.compressed > bytes.length) throw corrupt(`${m.name} is cut off`);
    let data: Uint8Array;
    if (m.method === 0) data = bytes.subarray(start, start + m.compressed);
    else if (m.method === 8) data = await inflate(bytes.slice(start, start + m.compressed), m.size);
    else throw corrupt(`${m.name} uses compression method ${m.method}`);
    if (data.length !== m.size || crc32(data) !== m.crc) {
      throw corrupt(`${m.name} fails its size or CRC check`);
    }
    out.set(m.name.slice(0, -4), data);
  }
  return out;
}
