/**
 * Gemma Scope: one params.npz holding W_enc [d_model, d_sae], W_dec [d_sae, d_model], b_enc,
 * b_dec and threshold. JumpReLU, no b_dec subtraction, no normalization. Follows SAELens 6.18's
 * gemma_2_sae_huggingface_loader:
 * - members named `w_*` are read as `W_*` (some releases spell w_enc / w_dec in lower case);
 * - folders whose path contains `embedding` are embedding SAEs, trained on embeddings scaled by
 *   sqrt(d_model): W_enc is divided and W_dec multiplied by sqrt(d_in), so requests send the
 *   unscaled embeddings SAELens' hook_embed sees. saeserve.json's `"embedding_scale": true |
 *   false` overrides the path rule.
 * @module
 */

import type { ByteSource } from "../io/byte_source.ts";
import type { SaeWeights } from "../sae/dictionary.ts";
import { FormatError } from "../errors.ts";
import { parseNpyHeader } from "../io/npy.ts";
import { loadNpzArray, readNpzDirectory } from "../io/npz.ts";
import type { Tensor } from "../sae/tensor.ts";
import { openZipEntry, type ZipEntry } from "../io/zip.ts";
import { type Folder, readJsonObject } from "./folder.ts";
import type { DictionaryDescription, LoadOptions } from "./loaded.ts";
import { asMatrix, asVector, dtypeName } from "./tensors.ts";

/** The file that marks a Gemma Scope folder. */
export const GEMMA_SCOPE_FILE = "params.npz";

const KEYS = ["W_enc", "W_dec", "b_enc", "b_dec", "threshold"] as const;

/** Read just the npy header at the start of an npz member (a few hundred bytes). */
async function memberHeader(source: ByteSource, entry: ZipEntry) {
  const reader = (await openZipEntry(source, entry)).getReader();
  let bytes = new Uint8Array(0);
  try {
    // The header length lives in bytes 8..12; read until the whole header is in hand.
    let need = 12;
    while (bytes.length < need) {
      const { done, value } = await reader.read();
      if (done) break;
      const joined = new Uint8Array(bytes.length + value.length);
      joined.set(bytes);
      joined.set(value, bytes.length);
      bytes = joined;
      if (bytes.length >= 12) {
        const view = new DataView(bytes.buffer);
        need = bytes[6] === 1 ? 10 + view.getUint16(8, true) : 12 + view.getUint32(8, true);
        if (need > (1 << 20) + 12) break; // parseNpyHeader reports the oversized header
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return parseNpyHeader(bytes);
}

/** SAELens' rename: a member `w_x` is `W_x`; every other name stands. */
function canonicalKey(member: string): string {
  return member.startsWith("w_") ? "W_" + member.slice(2) : member;
}

/** params.npz's members by canonical key (W_enc, ...), each checked present exactly once. */
async function directory(folder: Folder) {
  const source = await folder.open(GEMMA_SCOPE_FILE);
  const all = await readNpzDirectory(source);
  const members = new Map<string, ZipEntry>();
  const names = new Map<string, string>();
  for (const [name, entry] of all) {
    const key = canonicalKey(name);
    if (!(KEYS as readonly string[]).includes(key)) continue;
    if (names.has(key)) {
      throw new FormatError(GEMMA_SCOPE_FILE, `both ${names.get(key)} and ${name} are present`);
    }
    names.set(key, name);
    members.set(key, entry);
  }
  for (const key of KEYS) {
    if (!members.has(key)) throw new FormatError(GEMMA_SCOPE_FILE, `missing array ${key}`);
  }
  return { source, members };
}

const SIDECAR = "saeserve.json";

/** Whether SAELens would treat the folder as an embedding SAE (saeserve.json may say). */
export async function isEmbeddingSae(folder: Folder): Promise<boolean> {
  if (folder.files.has(SIDECAR)) {
    const choice = (await readJsonObject(folder, SIDECAR)).embedding_scale;
    if (typeof choice === "boolean") return choice;
    if (choice !== undefined) {
      throw new FormatError(SIDECAR, "embedding_scale must be true or false");
    }
  }
  return folder.path?.includes("embedding") ?? false;
}

/** SAELens' embedding-SAE adjustment, in place: W_enc / sqrt(d_in), W_dec * sqrt(d_in). */
function scaleEmbedding(wEnc: Float32Array, wDec: Float32Array, dIn: number): void {
  const root = Math.sqrt(dIn);
  for (let i = 0; i < wEnc.length; i++) wEnc[i] /= root;
  for (let i = 0; i < wDec.length; i++) wDec[i] *= root;
}

function describe(dIn: number, dSae: number, dtype: string): DictionaryDescription {
  return {
    format: "gemma_scope",
    architecture: "jumprelu",
    dIn,
    dSae,
    dtype,
    normalization: "none",
    applyBDecToInput: false,
    rescaleByDecoderNorm: false,
    skipConnection: false,
    transcoder: false,
    weightBytes: 4 * (2 * dIn * dSae + 2 * dSae + dIn),
  };
}

/** Describe a Gemma Scope folder from the npy header of W_enc inside params.npz. */
export async function describeGemmaScope(folder: Folder): Promise<DictionaryDescription> {
  const { source, members } = await directory(folder);
  const wEnc = await memberHeader(source, members.get("W_enc")!);
  if (wEnc.shape.length !== 2) throw new FormatError(GEMMA_SCOPE_FILE, "W_enc must be 2-D");
  return describe(wEnc.shape[0], wEnc.shape[1], dtypeName(wEnc.dtype ?? wEnc.descr));
}

/** Load a Gemma Scope folder into canonical weights, reading params.npz front to back once. */
export async function loadGemmaScope(folder: Folder, options?: LoadOptions): Promise<SaeWeights> {
  const { source, members } = await directory(folder);
  const ordered = [...KEYS].sort((a, b) =>
    members.get(a)!.localHeaderOffset - members.get(b)!.localHeaderOffset
  );
  const tensors = new Map<string, Tensor>();
  for (const key of ordered) {
    // The two matrices go straight to their final home; vectors are small.
    const big = key === "W_enc" || key === "W_dec";
    tensors.set(
      key,
      await loadNpzArray(source, members.get(key)!, { alloc: big ? options?.alloc : undefined }),
    );
  }
  const wEncTensor = tensors.get("W_enc")!;
  if (wEncTensor.shape.length !== 2) throw new FormatError(GEMMA_SCOPE_FILE, "W_enc must be 2-D");
  const [dIn, dSae] = wEncTensor.shape;
  // The two matrices first: a transposed one would otherwise be reported as a bias's length.
  const decShape = tensors.get("W_dec")!.shape;
  if (decShape.length !== 2 || decShape[0] !== dSae || decShape[1] !== dIn) {
    throw new FormatError(
      GEMMA_SCOPE_FILE,
      `W_enc is [${dIn}, ${dSae}] and W_dec [${decShape.join(", ")}]: they must be ` +
        "[d_model, d_sae] and [d_sae, d_model] (is one of them transposed?)",
    );
  }
  const vector = (key: string, n: number) => asVector(tensors.get(key)!, n, { what: key });
  const bDec = vector("b_dec", dIn);
  const wEnc = asMatrix(wEncTensor, { rows: dIn, cols: dSae, what: "W_enc" });
  const wDec = asMatrix(tensors.get("W_dec")!, { rows: dSae, cols: dIn, what: "W_dec" });
  if (await isEmbeddingSae(folder)) scaleEmbedding(wEnc.data, wDec.data, dIn);
  return {
    dIn,
    dSae,
    wEnc,
    wDec,
    bDec,
    preBias: null,
    activation: {
      kind: "jumprelu",
      bEnc: vector("b_enc", dSae),
      threshold: vector("threshold", dSae),
    },
    normalization: "none",
    wSkip: null,
  };
}
