/**
 * What a format loader produces: a description (cheap, from configs and headers) and, once
 * loaded, the canonical weights.
 * @module
 */

/** Checkpoint families saeserve reads. */
export type FormatName = "saelens" | "gemma_scope" | "sparsify" | "saev" | "dictionary_learning";

/** Architecture names as users know them. */
export type Architecture = "standard" | "jumprelu" | "topk" | "gated" | "groupmax";

/** Facts about a dictionary, known without loading its weights. */
export interface DictionaryDescription {
  readonly format: FormatName;
  readonly architecture: Architecture;
  readonly dIn: number;
  readonly dSae: number;
  /** Stored weight precision, e.g. "float32", "float16", "bfloat16". */
  readonly dtype: string;
  /** k for topk / groupmax dictionaries. */
  readonly k?: number;
  readonly normalization: "none" | "constant_norm_rescale" | "layer_norm";
  /** Whether b_dec is subtracted from the (normalized) input before encoding. */
  readonly applyBDecToInput: boolean;
  /** SAELens topk: codes scaled by decoder row norms (folded into the weights at load). */
  readonly rescaleByDecoderNorm: boolean;
  /** sparsify: a W_skip matrix is present. */
  readonly skipConnection: boolean;
  /** sparsify transcoders map one site to another. */
  readonly transcoder: boolean;
  readonly hookName?: string;
  readonly modelName?: string;
  /** Bytes the f32 weights will take in memory once loaded. */
  readonly weightBytes: number;
}

/** Options of the loaders. */
export interface LoadOptions {
  /** Where W_enc and W_dec go (the backend's memory); plain arrays when absent. */
  readonly alloc?: (length: number) => Float32Array;
}
