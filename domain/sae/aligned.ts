/**
 * Aligned dictionaries (SPARC, 2025): several streams (models or modalities) with their own
 * encoders and decoders into ONE shared latent index space.
 *
 *   h_s = (x_s - b_pre_s) @ W_enc_s + b_lat_s                    (W_enc_s: [d_s, latents])
 *   global TopK: the top-k indices of sum_s h_s (over the streams present), every stream keeps
 *   those indices with its own values through ReLU; local TopK: each stream picks its own.
 *   x^_t = z @ W_dec_t + b_pre_t (self, or cross when z comes from another stream)
 *
 * Format: a folder with saeserve.json {"kind": "aligned", "streams": [{"name", "d"}], "latents",
 * "k"} and aligned.safetensors holding `<name>.W_enc` [d, latents], `<name>.b_pre` [d],
 * `<name>.b_lat` [latents], `<name>.W_dec` [latents, d] per stream.
 * @module
 */

import type { ByteSource } from "../io/byte_source.ts";
import { FormatError, SaeError } from "../errors.ts";
import { type Matrix, matrix } from "./matrix.ts";
import {
  encodeSafetensors,
  loadSafetensorsTensor,
  readSafetensorsHeader,
  type TensorToWrite,
} from "../io/safetensors.ts";
import { topK } from "./top_k.ts";

/** One stream's weights. */
export interface AlignedStream {
  readonly name: string;
  readonly d: number;
  /** [d, latents] */
  readonly wEnc: Float32Array;
  readonly bPre: Float32Array;
  readonly bLat: Float32Array;
  /** [latents, d] */
  readonly wDec: Float32Array;
}

/** A loaded aligned dictionary. */
export interface AlignedDictionary {
  readonly latents: number;
  readonly k: number;
  readonly streams: AlignedStream[];
}

/** What a stream's name may be: letters, digits, `_`, `.` and `-`, 1 to 64 of them. */
export const STREAM_NAME: RegExp = /^[A-Za-z0-9_.-]{1,64}$/;

/** The weights file of an aligned folder. */
export const ALIGNED_FILE = "aligned.safetensors";

/** Parse saeserve.json's aligned description. */
export function parseAlignedConfig(
  json: Record<string, unknown>,
): { latents: number; k: number; streams: { name: string; d: number }[] } {
  if (json.kind !== "aligned") throw new FormatError("saeserve.json", 'kind must be "aligned"');
  const latents = json.latents;
  const k = json.k;
  if (!Number.isSafeInteger(latents) || (latents as number) < 1) {
    throw new FormatError("saeserve.json", "latents must be a positive integer");
  }
  if (!Number.isSafeInteger(k) || (k as number) < 1 || (k as number) > (latents as number)) {
    throw new FormatError("saeserve.json", "k must be an integer in [1, latents]");
  }
  if (!Array.isArray(json.streams) || json.streams.length < 1) {
    throw new FormatError("saeserve.json", "streams must be a non-empty list");
  }
  const streams = json.streams.map((s, i) => {
    const name = (s as { name?: unknown }).name;
    const d = (s as { d?: unknown }).d;
    if (typeof name !== "string" || !STREAM_NAME.test(name)) {
      throw new FormatError("saeserve.json", `stream ${i} needs a simple name`);
    }
    if (!Number.isSafeInteger(d) || (d as number) < 1) {
      throw new FormatError("saeserve.json", `stream ${name} needs a positive width d`);
    }
    return { name, d: d as number };
  });
  if (new Set(streams.map((s) => s.name)).size !== streams.length) {
    throw new FormatError("saeserve.json", "stream names must differ");
  }
  return { latents: latents as number, k: k as number, streams };
}

/** Load the weights of an aligned dictionary described by `config` (into shared memory). */
export async function loadAligned(
  source: ByteSource,
  config: { latents: number; k: number; streams: { name: string; d: number }[] },
): Promise<AlignedDictionary> {
  const header = await readSafetensorsHeader(source);
  const streams: AlignedStream[] = [];
  for (const { name, d } of config.streams) {
    const get = async (suffix: string, shape: number[]) => {
      const key = `${name}.${suffix}`;
      if (!header.tensors.has(key)) throw new FormatError(ALIGNED_FILE, `missing tensor ${key}`);
      const t = await loadSafetensorsTensor(source, { header, name: key });
      if (t.shape.length !== shape.length || t.shape.some((v, i) => v !== shape[i])) {
        throw new FormatError(ALIGNED_FILE, `${key} has shape [${t.shape}], expected [${shape}]`);
      }
      if (!t.data.every(Number.isFinite)) {
        throw new FormatError(ALIGNED_FILE, `${key} holds non-finite values`);
      }
      // Shared memory: the job workers that encode with it see these weights without a copy.
      const shared = new Float32Array(new SharedArrayBuffer(t.data.length * 4));
      shared.set(t.data);
      return shared;
    };
    streams.push({
      name,
      d,
      wEnc: await get("W_enc", [d, config.latents]),
      bPre: await get("b_pre", [d]),
      bLat: await get("b_lat", [config.latents]),
      wDec: await get("W_dec", [config.latents, d]),
    });
  }
  return { latents: config.latents, k: config.k, streams };
}

/** The stream called `name`, or a 422. */
export function stream(dict: AlignedDictionary, name: string): AlignedStream {
  const s = dict.streams.find((t) => t.name === name);
  if (!s) {
    throw new SaeError(
      "invalid",
      `unknown stream ${JSON.stringify(name)}; streams: ${
        dict.streams.map((t) => t.name).join(", ")
      }`,
    );
  }
  return s;
}

/** Pre-activations h = (x - b_pre) @ W_enc + b_lat, [rows, latents] (f64 accumulation). */
export function preActivations(
  s: AlignedStream,
  x: Matrix,
  options: { latents: number },
): Float32Array {
  const { latents } = options;
  if (x.cols !== s.d) {
    throw new SaeError("invalid", `stream ${s.name} takes ${s.d} columns, got ${x.cols}`);
  }
  const out = new Float32Array(x.rows * latents);
  const acc = new Float64Array(latents);
  for (let r = 0; r < x.rows; r++) {
    acc.set(s.bLat);
    for (let c = 0; c < s.d; c++) {
      const v = x.data[r * s.d + c] - s.bPre[c];
      if (v === 0) continue;
      const row = c * latents;
      for (let i = 0; i < latents; i++) acc[i] += v * s.wEnc[row + i];
    }
    out.set(acc, r * latents);
  }
  return out;
}

/** Sparse codes per stream. */
export interface AlignedCodes {
  readonly indices: Map<string, Int32Array[]>;
  readonly values: Map<string, Float32Array[]>;
}

/** Encode the present streams' rows (all with the same row count) with global or local TopK. */
export function encodeAligned(
  dict: AlignedDictionary,
  inputs: Map<string, Matrix>,
  options: { topk: "global" | "local" },
): AlignedCodes {
  const names = [...inputs.keys()];
  if (names.length === 0) throw new SaeError("invalid", "send at least one stream");
  const rows = inputs.get(names[0])!.rows;
  for (const n of names) {
    if (inputs.get(n)!.rows !== rows) {
      throw new SaeError("invalid", "every stream needs the same number of rows");
    }
  }
  const L = dict.latents;
  const pre = new Map(
    names.map((n) => [n, preActivations(stream(dict, n), inputs.get(n)!, { latents: L })]),
  );
  const indices = new Map<string, Int32Array[]>(names.map((n) => [n, []]));
  const values = new Map<string, Float32Array[]>(names.map((n) => [n, []]));
  const sum = new Float32Array(L);
  for (let r = 0; r < rows; r++) {
    let shared: Int32Array | null = null;
    if (options.topk === "global") {
      sum.fill(0);
      for (const n of names) {
        const h = pre.get(n)!;
        for (let i = 0; i < L; i++) sum[i] += h[r * L + i];
      }
      shared = Int32Array.from(topK(sum, dict.k).indices).sort();
    }
    for (const n of names) {
      const h = pre.get(n)!.subarray(r * L, (r + 1) * L);
      const chosen = shared ?? Int32Array.from(topK(h, dict.k).indices).sort();
      const keep = [...chosen].filter((i) => h[i] > 0);
      // Sorted by value descending, ties lower index (as every encode answer).
      keep.sort((a, b) => h[b] - h[a] || a - b);
      indices.get(n)!.push(Int32Array.from(keep));
      values.get(n)!.push(Float32Array.from(keep, (i) => h[i]));
    }
  }
  return { indices, values };
}

/** Per-row Jaccard of the active index sets, averaged over the pairs of present streams. */
export function rowJaccard(codes: AlignedCodes): number[] {
  const names = [...codes.indices.keys()];
  const rows = codes.indices.get(names[0])?.length ?? 0;
  return Array.from({ length: rows }, (_, r) => {
    if (names.length < 2) return 1;
    let sum = 0;
    let pairs = 0;
    for (let a = 0; a < names.length; a++) {
      for (let b = a + 1; b < names.length; b++) {
        const A = new Set(codes.indices.get(names[a])![r]);
        const Bs = new Set(codes.indices.get(names[b])![r]);
        const union = new Set([...A, ...Bs]).size;
        let inter = 0;
        for (const i of A) if (Bs.has(i)) inter++;
        sum += union ? inter / union : 1;
        pairs++;
      }
    }
    return sum / pairs;
  });
}

/** Decode codes into stream `to`'s space: z @ W_dec_to + b_pre_to. */
export function decodeInto(
  dict: AlignedDictionary,
  codes: { indices: Int32Array[]; values: Float32Array[] },
  options: { to: string },
): Matrix {
  const { to } = options;
  const t = stream(dict, to);
  const out = matrix([codes.indices.length, t.d]);
  for (let r = 0; r < out.rows; r++) {
    const acc = new Float64Array(t.bPre);
    codes.indices[r].forEach((i, j) => {
      const v = codes.values[r][j];
      for (let c = 0; c < t.d; c++) acc[c] += v * t.wDec[i * t.d + c];
    });
    out.data.set(acc, r * t.d);
  }
  return out;
}

/** Translate rows of stream `from` into stream `to` (encode alone with TopK, decode into `to`). */
export function translate(
  dict: AlignedDictionary,
  x: Matrix,
  options: { from: string; to: string },
): Matrix {
  stream(dict, options.to);
  const codes = encodeAligned(dict, new Map([[options.from, x]]), { topk: "local" });
  return decodeInto(dict, {
    indices: codes.indices.get(options.from)!,
    values: codes.values.get(options.from)!,
  }, { to: options.to });
}

/**
 * Concept alignment (the paper's Jaccard): per latent and pair of streams, the weighted
 * Jaccard sum(min) / sum(max) of the summed label vectors of the items on which the latent
 * fires in each stream; latents active in fewer than 2 streams score 0. Also dead latents (in
 * every stream) and mixed ones (alive in some streams, dead in others).
 */
export function conceptAlignment(
  codes: AlignedCodes,
  options: { labels: number[][]; latents: number },
): { perLatent: number[]; mean: number; dead: number[]; mixed: number[] } {
  const { labels, latents } = options;
  const names = [...codes.indices.keys()];
  const classes = labels[0]?.length ?? 0;
  const profile = new Map<string, Map<number, Float64Array>>();
  for (const n of names) {
    const m = new Map<number, Float64Array>();
    codes.indices.get(n)!.forEach((ix, r) => {
      for (const i of ix) {
        let p = m.get(i);
        if (!p) m.set(i, p = new Float64Array(classes));
        for (let c = 0; c < classes; c++) p[c] += labels[r][c];
      }
    });
    profile.set(n, m);
  }
  return { ...scoreProfiles(profile, names, latents) };
}

function scoreProfiles(
  profile: Map<string, Map<number, Float64Array>>,
  names: string[],
  latents: number,
) {
  const perLatent: number[] = [];
  const dead: number[] = [];
  const mixed: number[] = [];
  for (let i = 0; i < latents; i++) {
    const alive = names.filter((n) => profile.get(n)!.has(i));
    if (alive.length === 0) dead.push(i);
    else if (alive.length < names.length) mixed.push(i);
    if (alive.length < 2) {
      perLatent.push(0);
      continue;
    }
    let sum = 0;
    let pairs = 0;
    for (let a = 0; a < alive.length; a++) {
      for (let b = a + 1; b < alive.length; b++) {
        const p = profile.get(alive[a])!.get(i)!;
        const q = profile.get(alive[b])!.get(i)!;
        let mn = 0;
        let mx = 0;
        for (let c = 0; c < p.length; c++) {
          mn += Math.min(p[c], q[c]);
          mx += Math.max(p[c], q[c]);
        }
        sum += mx > 0 ? mn / mx : 0;
        pairs++;
      }
    }
    perLatent.push(sum / pairs);
  }
  const mean = perLatent.length ? perLatent.reduce((a, b) => a + b, 0) / perLatent.length : 0;
  return { perLatent, mean, dead, mixed };
}

/** The files of an aligned folder (saeserve.json + aligned.safetensors) for `dict`. */
export function alignedFiles(
  dict: AlignedDictionary,
  options?: { description?: string },
): Map<string, Uint8Array<ArrayBuffer>> {
  const tensors: Record<string, TensorToWrite> = {};
  for (const s of dict.streams) {
    tensors[`${s.name}.W_enc`] = { shape: [s.d, dict.latents], data: s.wEnc };
    tensors[`${s.name}.b_pre`] = { shape: [s.d], data: s.bPre };
    tensors[`${s.name}.b_lat`] = { shape: [dict.latents], data: s.bLat };
    tensors[`${s.name}.W_dec`] = { shape: [dict.latents, s.d], data: s.wDec };
  }
  const sidecar = {
    kind: "aligned",
    latents: dict.latents,
    k: dict.k,
    streams: dict.streams.map((s) => ({ name: s.name, d: s.d })),
    description: options?.description,
  };
  return new Map([
    ["saeserve.json", new TextEncoder().encode(JSON.stringify(sidecar, null, 2) + "\n")],
    [ALIGNED_FILE, encodeSafetensors(tensors)],
  ]);
}
