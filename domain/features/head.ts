/**
 * Model heads: a language model's final norm and unembedding, loaded from a folder named by a
 * dictionary's saeserve.json (`"head": "<folder id>"`): `head.safetensors` (W_U as
 * [d_model, vocab] or [vocab, d_model], `norm.weight`, optional `norm.bias`), `head.json`
 * (norm kind, eps, Gemma's (1 + w) offset) and the vocabulary (`vocab.json`, a list of token
 * strings, or a Hugging Face `tokenizer.json`).
 * @module
 */

import { FormatError } from "../errors.ts";
import { type Folder, readJsonFile, readJsonObject } from "../families/folder.ts";
import { loadSafetensorsMatrix } from "../families/tensors.ts";
import { type Matrix, matrix } from "../sae/matrix.ts";
import { loadSafetensorsTensor, readSafetensorsHeader } from "../io/safetensors.ts";

/** Largest vocabulary file read (a large tokenizer.json is tens of MB). */
export const MAX_VOCABULARY_BYTES = 64 << 20;

/** Files of a head folder. */
export const HEAD_FILES = { weights: "head.safetensors", config: "head.json" } as const;

/** The final norm applied before the unembedding. */
export interface HeadNorm {
  readonly kind: "rmsnorm" | "layernorm" | "none";
  /** [d_model], or null for "none". */
  readonly weight: Float32Array | null;
  /** [d_model] layernorm bias, or null. */
  readonly bias: Float32Array | null;
  readonly eps: number;
  /** Gemma stores w and multiplies by (1 + w). */
  readonly gemmaOffset: boolean;
}

/** A loaded head. */
export interface ModelHead {
  readonly dModel: number;
  readonly vocab: number;
  /** [vocab, d_model]: token t's unembedding row (logits = norm(h) @ wU^T). */
  readonly wU: Matrix;
  readonly norm: HeadNorm;
  /** Token strings by id (length vocab; ids the vocabulary file lacks read "<id>"). */
  readonly tokens: readonly string[];
}

/** Bytes a head holds (what the memory budget counts). */
export function headBytes(head: ModelHead): number {
  return head.wU.data.byteLength + (head.norm.weight?.byteLength ?? 0) +
    (head.norm.bias?.byteLength ?? 0);
}

/** Token strings by id from vocab.json (a list) or tokenizer.json (model.vocab + added_tokens). */
export function parseVocabulary(json: unknown, file: string): string[] {
  if (Array.isArray(json)) {
    if (!json.every((t) => typeof t === "string")) {
      throw new FormatError(file, "must be a list of strings");
    }
    return json as string[];
  }
  if (typeof json !== "object" || json === null) throw new FormatError(file, "not a vocabulary");
  const model = (json as { model?: { vocab?: unknown } }).model;
  const vocab = model?.vocab;
  const byId = new Map<number, string>();
  if (vocab && typeof vocab === "object" && !Array.isArray(vocab)) {
    for (const [token, id] of Object.entries(vocab as Record<string, unknown>)) {
      if (Number.isSafeInteger(id) && (id as number) >= 0) byId.set(id as number, token);
    }
  } else if (Array.isArray(vocab)) {
    // Unigram tokenizers: [[piece, score], ...] in id order.
    vocab.forEach((entry, id) =>
      Array.isArray(entry) && typeof entry[0] === "string" && byId.set(id, entry[0])
    );
  } else {
    throw new FormatError(file, "has no model.vocab");
  }
  const added = (json as { added_tokens?: unknown }).added_tokens;
  if (Array.isArray(added)) {
    for (const t of added) {
      if (t && Number.isSafeInteger(t.id) && t.id >= 0 && typeof t.content === "string") {
        byId.set(t.id, t.content);
      }
    }
  }
  const size = byId.size ? Math.max(...byId.keys()) + 1 : 0;
  if (size > 10_000_000) throw new FormatError(file, "vocabulary is implausibly large");
  return Array.from({ length: size }, (_, id) => byId.get(id) ?? `<${id}>`);
}

function parseNorm(config: Record<string, unknown>): Omit<HeadNorm, "weight" | "bias"> {
  const kind = config.norm ?? "none";
  if (kind !== "rmsnorm" && kind !== "layernorm" && kind !== "none") {
    throw new FormatError(
      HEAD_FILES.config,
      `norm must be rmsnorm, layernorm or none, not ${JSON.stringify(kind)}`,
    );
  }
  const eps = config.eps ?? (kind === "layernorm" ? 1e-5 : 1e-6);
  if (typeof eps !== "number" || !(eps >= 0)) {
    throw new FormatError(HEAD_FILES.config, "eps must be a non-negative number");
  }
  return { kind, eps, gemmaOffset: config.gemma_offset === true };
}

/** Load a head folder. */
export async function loadHead(folder: Folder): Promise<ModelHead> {
  const config = await readJsonObject(folder, HEAD_FILES.config);
  const normConfig = parseNorm(config);
  const name = ["vocab.json", "tokenizer.json"].find((n) => folder.files.has(n));
  if (!name) throw new FormatError("head", "needs vocab.json or tokenizer.json");
  const tokens = parseVocabulary(
    await readJsonFile(folder, name, { maxBytes: MAX_VOCABULARY_BYTES }),
    name,
  );
  const source = await folder.open(HEAD_FILES.weights);
  const header = await readSafetensorsHeader(source);
  const entry = header.tensors.get("W_U");
  if (!entry || entry.shape.length !== 2) {
    throw new FormatError(HEAD_FILES.weights, "needs a 2-D tensor W_U");
  }
  const normWeight = header.tensors.get("norm.weight");
  const [a, b] = entry.shape;
  // d_model from the norm when there is one; else the dimension that is not the vocabulary.
  let dModel: number;
  if (normWeight) dModel = normWeight.shape.reduce((x, y) => x * y, 1);
  else if (a === tokens.length && b !== tokens.length) dModel = b;
  else if (b === tokens.length && a !== tokens.length) dModel = a;
  else dModel = Math.min(a, b);
  let vocabFirst: boolean;
  if (a === dModel && b !== dModel) vocabFirst = false;
  else if (b === dModel && a !== dModel) vocabFirst = true;
  else if (a === dModel && b === dModel) vocabFirst = true; // square: Hugging Face lm_head layout
  else {throw new FormatError(
      HEAD_FILES.weights,
      `W_U [${entry.shape}] does not have a side of d_model ${dModel}`,
    );}
  const vocab = vocabFirst ? a : b;
  if (tokens.length > vocab) {
    throw new FormatError("head", `vocabulary of ${tokens.length} tokens for W_U of ${vocab}`);
  }
  const padded = tokens.concat(
    Array.from({ length: vocab - tokens.length }, (_, i) => `<${tokens.length + i}>`),
  );
  const wU = await loadSafetensorsMatrix(source, header, {
    name: "W_U",
    rows: vocab,
    cols: dModel,
    transpose: !vocabFirst,
  });
  const vector = async (name: string) => {
    if (!header.tensors.has(name)) return null;
    const t = await loadSafetensorsTensor(source, { header, name });
    if (t.data.length !== dModel) {
      throw new FormatError(HEAD_FILES.weights, `${name} must hold ${dModel} values`);
    }
    return t.data;
  };
  const weight = normConfig.kind === "none" ? null : await vector("norm.weight");
  if (normConfig.kind !== "none" && !weight) {
    throw new FormatError(HEAD_FILES.weights, `${normConfig.kind} needs norm.weight`);
  }
  const bias = normConfig.kind === "layernorm" ? await vector("norm.bias") : null;
  return { dModel, vocab, wU, norm: { ...normConfig, weight, bias }, tokens: padded };
}

/** The final norm applied to each row of `x` [rows, d_model] (a new matrix). */
export function applyFinalNorm(norm: HeadNorm, x: Matrix): Matrix {
  const out = matrix([x.rows, x.cols], x.data.slice());
  if (norm.kind === "none") return out;
  for (let r = 0; r < x.rows; r++) {
    const row = out.data.subarray(r * x.cols, (r + 1) * x.cols);
    let mean = 0;
    if (norm.kind === "layernorm") {
      for (const v of row) mean += v;
      mean /= x.cols;
    }
    let sq = 0;
    for (const v of row) sq += (v - mean) * (v - mean);
    const scale = 1 / Math.sqrt(sq / x.cols + norm.eps);
    for (let c = 0; c < x.cols; c++) {
      const w = norm.weight![c] + (norm.gemmaOffset ? 1 : 0);
      row[c] = (row[c] - mean) * scale * w + (norm.bias ? norm.bias[c] : 0);
    }
  }
  return out;
}

/** Softmax of one row of logits, in f64. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}
