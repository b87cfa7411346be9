/**
 * Training rows from a store: one .npy file, or a folder of .npy / .safetensors shards, local
 * or remote (any store). Shards are visited in a seeded random order, each read whole only
 * when it fits the buffer budget, and rows are shuffled inside a bounded buffer that refills
 * as it drains; the stream loops over the data forever (epochs).
 * @module
 */

import { readRange } from "../byte_source.ts";
import { FormatError, SaeError } from "../errors.ts";
import { type Matrix, matrix } from "../matrix.ts";
import { decodeNpy, parseNpyHeader } from "../npy.ts";
import { loadSafetensorsTensor, readSafetensorsHeader } from "../safetensors.ts";
import type { Store } from "../store/mod.ts";
import type { RowSource } from "./trainer.ts";

/** Options of {@link storeRows}. */
export interface StoreRowsOptions {
  /** Count every shard's rows up front (reads headers only) so `rows` is known. */
  readonly countRows?: boolean;
  /** Bytes of rows held at once (default 256 MiB). */
  readonly bufferBytes?: number;
  readonly seed?: number;
}

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 2-D shard's rows. */
async function readShard(store: Store, path: string, maxBytes: number): Promise<Matrix> {
  const source = await store.open(path);
  if (source.size > maxBytes) {
    throw new SaeError(
      "too_large",
      `shard ${path} (${source.size} bytes) is larger than the row buffer (${maxBytes})`,
    );
  }
  let shape: readonly number[];
  let data: Float32Array;
  if (path.endsWith(".npy")) {
    const t = decodeNpy(await readRange(source, 0, source.size), { maxBytes });
    shape = t.shape;
    data = t.data;
  } else {
    const header = await readSafetensorsHeader(source);
    const names = [...header.tensors.keys()];
    const name = names.find((n) => n === "activations") ?? names[0];
    if (!name) throw new FormatError(path, "holds no tensor");
    const t = await loadSafetensorsTensor(source, header, name);
    shape = t.shape;
    data = t.data;
  }
  if (shape.length !== 2) {
    throw new FormatError(path, `rows must be 2-D [rows, d_in], got (${shape})`);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new FormatError(path, `non-finite value at element ${i}`);
  }
  return matrix(shape[0], shape[1], data);
}

/** Rows in one shard, from its header. */
async function shardRows(store: Store, path: string): Promise<number> {
  const source = await store.open(path);
  if (path.endsWith(".npy")) {
    const head = await readRange(source, 0, Math.min(source.size, 1 << 16));
    return parseNpyHeader(head).shape[0] ?? 0;
  }
  const header = await readSafetensorsHeader(source);
  const names = [...header.tensors.keys()];
  const entry = header.tensors.get(names.find((n) => n === "activations") ?? names[0]);
  return entry?.shape[0] ?? 0;
}

/** Rows from `path` in `store`: a .npy / .safetensors file, or a folder of them. */
export async function storeRows(
  store: Store,
  path: string,
  options?: StoreRowsOptions,
): Promise<RowSource & { readonly rows?: number }> {
  const clean = path.replace(/^\/+|\/+$/g, "");
  const isFile = /\.(npy|safetensors)$/.test(clean);
  const shards = isFile
    ? [clean]
    : (await store.list(clean ? clean + "/" : "")).map((e) => e.path).filter((p) =>
      /\.(npy|safetensors)$/.test(p)
    ).sort();
  if (shards.length === 0) {
    throw new SaeError("not_found", `no .npy or .safetensors rows under ${JSON.stringify(path)}`);
  }
  const budget = options?.bufferBytes ?? 256 << 20;
  const rand = random(options?.seed ?? 0);
  const first = await readShard(store, shards[0], budget);
  const dIn = first.cols;
  let order: string[] = [];
  let pending: Matrix | null = first;
  // The buffer: rows not yet served, shuffled as they are added.
  let buffer = new Float32Array(0);
  let rows = 0;

  function nextShardPath(): string {
    if (order.length === 0) {
      order = [...shards];
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    return order.pop()!;
  }

  async function refill(): Promise<void> {
    const shard = pending ?? await readShard(store, nextShardPath(), budget);
    pending = null;
    if (shard.cols !== dIn) {
      throw new FormatError("rows", `shards disagree on d_in (${shard.cols} vs ${dIn})`);
    }
    const grown = new Float32Array((rows + shard.rows) * dIn);
    grown.set(buffer.subarray(0, rows * dIn));
    grown.set(shard.data, rows * dIn);
    // Fisher-Yates over the whole buffer keeps old and new rows mixed.
    const total = rows + shard.rows;
    const tmp = new Float32Array(dIn);
    for (let i = total - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      tmp.set(grown.subarray(i * dIn, (i + 1) * dIn));
      grown.copyWithin(i * dIn, j * dIn, (j + 1) * dIn);
      grown.set(tmp, j * dIn);
    }
    buffer = grown;
    rows = total;
  }

  let total: number | undefined;
  if (options?.countRows) {
    total = 0;
    for (const shard of shards) total += await shardRows(store, shard);
  }
  return {
    dIn,
    rows: total,
    async next(n: number): Promise<Matrix> {
      const out = matrix(n, dIn);
      let filled = 0;
      while (filled < n) {
        if (rows === 0) await refill();
        const take = Math.min(n - filled, rows);
        out.data.set(buffer.subarray((rows - take) * dIn, rows * dIn), filled * dIn);
        rows -= take;
        filled += take;
      }
      return out;
    },
  };
}
