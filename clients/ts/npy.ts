/**
 * .npy for the wire: float32 [rows, cols] out, float32 / float64 / float16 / int32 in.
 * @module
 */

/** A row-major float32 matrix [rows, cols]. */
export interface Matrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/** Whether this machine stores numbers little-endian, as `<f4` does (nearly every one). */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** A float32 matrix as .npy bytes (format 1.0, little-endian `<f4`). */
export function encodeNpy(m: Matrix): Uint8Array<ArrayBuffer> {
  if (m.data.length !== m.rows * m.cols) {
    throw new RangeError(
      `data holds ${m.data.length} numbers, not ${m.rows} x ${m.cols}`,
    );
  }
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${m.rows}, ${m.cols}), }`;
  header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n"; // pad to a multiple of 64
  const out = new Uint8Array(10 + header.length + m.data.length * 4);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  if (LITTLE_ENDIAN) {
    // The floats' bytes as they are, not one DataView write each (256 x 2304 rows through
    // Client: 76.4 -> 74.8 ms with the change in http1.ts; bench/results/ts_client_copies_*.log).
    out.set(
      new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength),
      10 + header.length,
    );
  } else {
    const view = new DataView(out.buffer, 10 + header.length);
    for (let i = 0; i < m.data.length; i++) view.setFloat32(i * 4, m.data[i], true);
  }
  return out;
}

function half(bits: number): number {
  const e = (bits >> 10) & 0x1f, f = bits & 0x3ff, s = bits & 0x8000 ? -1 : 1;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** An .npy array's layout: where the data starts, its dtype and its shape as [rows, cols]. */
interface NpyLayout {
  view: DataView;
  start: number;
  little: boolean;
  dtype: string;
  size: number;
  rows: number;
  cols: number;
}

function layoutOf(bytes: Uint8Array): NpyLayout {
  if (
    bytes.length < 10 || bytes[0] !== 0x93 ||
    new TextDecoder().decode(bytes.subarray(1, 6)) !== "NUMPY"
  ) {
    throw new Error("not an .npy array");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const long = bytes[6] >= 2;
  const headerLength = long ? view.getUint32(8, true) : view.getUint16(8, true);
  const start = (long ? 12 : 10) + headerLength;
  const header = new TextDecoder().decode(bytes.subarray(long ? 12 : 10, start));
  const descr = /'descr':\s*'([<>|=])([fi])(\d)'/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !shape || /'fortran_order':\s*True/.test(header)) {
    throw new Error(`unsupported .npy header ${header.trim()}`);
  }
  const dims = shape[1].split(",").map((s) => s.trim()).filter((s) => s).map(Number);
  if (dims.length > 2) throw new Error(`expected a 1-D or 2-D array, got shape (${dims})`);
  const [rows, cols] = dims.length === 2 ? dims : [1, dims[0] ?? 1];
  const size = Number(descr[3]);
  if (start + rows * cols * size > bytes.length) throw new Error("the .npy array is cut off");
  return { view, start, little: descr[1] !== ">", dtype: descr[2] + size, size, rows, cols };
}

/** A 1-D or 2-D .npy array (f4, f8, f2 or i4, either byte order) as a float32 matrix. */
export function decodeNpy(bytes: Uint8Array): Matrix {
  const { view, start, little, dtype, size, rows, cols } = layoutOf(bytes);
  const read: Record<string, (at: number) => number> = {
    f4: (at) => view.getFloat32(at, little),
    f8: (at) => view.getFloat64(at, little),
    f2: (at) => half(view.getUint16(at, little)),
    i4: (at) => view.getInt32(at, little),
  };
  const get = read[dtype];
  if (!get) throw new Error(`unsupported .npy dtype ${dtype}`);
  if (little && dtype === "f4") {
    // The common case: copy the bytes as they are.
    const copy = bytes.slice(start, start + rows * cols * 4);
    return { data: new Float32Array(copy.buffer), rows, cols };
  }
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = get(start + i * size);
  return { data, rows, cols };
}

/** A 1-D or 2-D .npy array of int32 (`i4`, either byte order), exact (latent indices). */
export function decodeNpyInt32(
  bytes: Uint8Array,
): { data: Int32Array; rows: number; cols: number } {
  const { view, start, little, dtype, rows, cols } = layoutOf(bytes);
  if (dtype !== "i4") throw new Error(`expected an int32 .npy array, got ${dtype}`);
  const data = new Int32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = view.getInt32(start + i * 4, little);
  return { data, rows, cols };
}
