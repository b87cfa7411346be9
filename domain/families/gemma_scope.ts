/**
 * Gemma Scope: one params.npz holding exactly W_enc [d_model, d_sae], W_dec [d_sae, d_model],
 * b_enc, b_dec and threshold. JumpReLU, no b_dec subtraction, no normalization.
 * @module
 */

import type { ByteSource } from "../io/byte_source.ts";
import type { SaeWeights } from "../sae/dictionary.ts";
import { FormatError } from "../errors.ts";
import { parseNpyHeader } from "../io/npy.ts";
import { loadNpzArray, readNpzDirectory } from "../io/npz.ts";
import type { Tensor } from "../sae/tensor.ts";
import { openZipEntry, type ZipEntry } from "../io/zip.ts";
import type { Folder } from "./folder.ts";
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

async function directory(folder: Folder) {
  const source = await folder.open(GEMMA_SCOPE_FILE);
  const members = await readNpzDirectory(source);
  for (const key of KEYS) {
    if (!members.has(key)) throw new FormatError(GEMMA_SCOPE_FILE, `missing array ${key}`);
  }
  return { source, members };
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
  const vector = (key: string, n: number) => asVector(tensors.get(key)!, n, key);
  const bDec = vector("b_dec", dIn);
  return {
    dIn,
    dSae,
    wEnc: asMatrix(wEncTensor, dIn, dSae, "W_enc"),
    wDec: asMatrix(tensors.get("W_dec")!, dSae, dIn, "W_dec"),
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
