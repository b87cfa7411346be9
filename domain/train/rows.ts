/**
 * Training rows from a store: one .npy / .safetensors file, or a folder of such shards, local
 * or remote (any store). Files are cut into blocks of rows that fit half the buffer budget and
 * read with ranged reads (a file larger than memory streams block by block); blocks are
 * visited in a seeded random order per epoch and rows are shuffled inside the bounded buffer.
 * The stream loops over the data forever (epochs).
 * @module
 */

import { type ObjectSource, readRange } from "../io/byte_source.ts";
import { bytesToF32, type DType, isDType } from "../io/dtype.ts";
import { FormatError, SaeError } from "../errors.ts";
import { type Matrix, matrix } from "../sae/matrix.ts";
import { seededRandom } from "../random.ts";
import { parseNpyHeader } from "../io/npy.ts";
import { named } from "../io/npy_header.ts";
import { readSafetensorsHeader } from "../io/safetensors.ts";
import type { RowSource } from "./trainer.ts";

/** Options of {@link storeRows}. */
export interface StoreRowsOptions {
  /** Bytes of rows held at once (default 256 MiB). */
  readonly bufferBytes?: number;
  readonly seed?: number;
}

/** Where one file's rows are. */
interface Shard {
  readonly path: string;
  readonly rows: number;
  readonly cols: number;
  readonly dtype: DType;
  readonly littleEndian: boolean;
  /** Byte offset of row 0. */
  readonly dataOffset: number;
}

const BYTES: Record<DType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** A shard's layout from its header (no row is read). */
async function describeShard(store: ObjectSource, path: string): Promise<Shard> {
  const source = await store.open(path);
  let shape: readonly number[];
  let dtype: string | null;
  let littleEndian = true;
  let dataOffset: number;
  if (path.endsWith(".npy")) {
    const head = await readRange(source, { offset: 0, length: Math.min(source.size, 1 << 20) });
    const h = named(path, () => parseNpyHeader(head));
    if (h.fortranOrder && h.shape.length === 2 && h.shape[1] > 1) {
      throw new FormatError(
        path,
        "Fortran-order rows cannot be streamed; save with np.ascontiguousarray",
      );
    }
    shape = h.shape;
    dtype = h.dtype;
    littleEndian = h.littleEndian;
    dataOffset = h.dataOffset;
  } else {
    const header = await readSafetensorsHeader(source).catch((e) => {
      throw e instanceof FormatError ? new FormatError(path, e.message, { cause: e }) : e;
    });
    const names = [...header.tensors.keys()];
    const entry = header.tensors.get(names.find((n) => n === "activations") ?? names[0]);
    if (!entry) throw new FormatError(path, "holds no tensor");
    shape = entry.shape;
    dtype = entry.dtype;
    dataOffset = entry.begin;
  }
  if (shape.length !== 2) {
    throw new FormatError(path, `rows must be 2-D [rows, d_in], got (${shape})`);
  }
  if (!dtype || !isDType(dtype)) {
    throw new FormatError(path, `rows must be float32, float16, bfloat16 or float64`);
  }
  const [rows, cols] = shape;
  if (dataOffset + rows * cols * BYTES[dtype] > source.size) {
    throw new FormatError(path, "is shorter than its header says");
  }
  return { path, rows, cols, dtype, littleEndian, dataOffset };
}

/** Rows [r0, r1) of a shard as f32, checked finite. */
async function readBlock(
  store: ObjectSource,
  shard: Shard,
  r0: number,
  r1: number,
): Promise<Matrix> {
  const rowBytes = shard.cols * BYTES[shard.dtype];
  const source = await store.open(shard.path);
  const bytes = await readRange(source, {
    offset: shard.dataOffset + r0 * rowBytes,
    length: (r1 - r0) * rowBytes,
  });
  const data = bytesToF32(bytes, { dtype: shard.dtype, littleEndian: shard.littleEndian });
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new FormatError(
        shard.path,
        `non-finite value in row ${r0 + Math.floor(i / shard.cols)}`,
      );
    }
  }
  return matrix([r1 - r0, shard.cols], data);
}

/** Rows from `path` in `store`: a .npy / .safetensors file, or a folder of them. */
export async function storeRows(
  store: ObjectSource,
  path: string,
  options?: StoreRowsOptions,
): Promise<RowSource & { readonly rows: number }> {
  const clean = path.replace(/^\/+|\/+$/g, "");
  const paths = /\.(npy|safetensors)$/.test(clean)
    ? [clean]
    : (await store.list(clean ? clean + "/" : "")).map((e) => e.path)
      .filter((p) => /\.(npy|safetensors)$/.test(p)).sort();
  if (paths.length === 0) {
    throw new SaeError("not_found", `no .npy or .safetensors rows under ${JSON.stringify(path)}`);
  }
  const shards: Shard[] = [];
  for (const p of paths) shards.push(await describeShard(store, p));
  const dIn = shards[0].cols;
  for (const s of shards) {
    if (s.cols !== dIn) {
      throw new FormatError(s.path, `has ${s.cols} columns, ${shards[0].path} has ${dIn}`);
    }
  }
  const budget = options?.bufferBytes ?? 256 << 20;
  const blockRows = Math.max(1, Math.floor(budget / 2 / (dIn * 4)));
  const blocks: { shard: Shard; r0: number; r1: number }[] = [];
  for (const shard of shards) {
    for (let r0 = 0; r0 < shard.rows; r0 += blockRows) {
      blocks.push({ shard, r0, r1: Math.min(shard.rows, r0 + blockRows) });
    }
  }
  if (blocks.length === 0) {
    throw new SaeError("not_found", `the rows under ${JSON.stringify(path)} are empty`);
  }
  const rand = seededRandom(options?.seed ?? 0);
  let order: typeof blocks = [];
  let buffer = new Float32Array(0);
  let held = 0;

  async function refill(): Promise<void> {
    if (order.length === 0) {
      order = [...blocks];
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    const b = order.pop()!;
    const block = await readBlock(store, b.shard, b.r0, b.r1);
    const total = held + block.rows;
    const grown = new Float32Array(total * dIn);
    grown.set(buffer.subarray(0, held * dIn));
    grown.set(block.data, held * dIn);
    // Fisher-Yates over the whole buffer mixes the leftover rows with the new block.
    const tmp = new Float32Array(dIn);
    for (let i = total - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      tmp.set(grown.subarray(i * dIn, (i + 1) * dIn));
      grown.copyWithin(i * dIn, j * dIn, (j + 1) * dIn);
      grown.set(tmp, j * dIn);
    }
    buffer = grown;
    held = total;
  }

  return {
    dIn,
    rows: shards.reduce((n, s) => n + s.rows, 0),
    async next(n: number): Promise<Matrix> {
      const out = matrix([n, dIn]);
      let filled = 0;
      while (filled < n) {
        if (held === 0) await refill();
        const take = Math.min(n - filled, held);
        out.data.set(buffer.subarray((held - take) * dIn, held * dIn), filled * dIn);
        held -= take;
        filled += take;
      }
      return out;
    },
  };
}
