/**
 * Sparse autoencoders as the service computes with them: dictionaries and their weights
 * (aligned, multi-stream ones too), matrices and tensors, activations, encoding and decoding,
 * top-k, normalization, reconstruction metrics and steering.
 * @module
 */

export * from "./activation.ts";
export * from "./aligned.ts";
export * from "./dictionary.ts";
export * from "./dictionary_id.ts";
export * from "./matrix.ts";
export * from "./normalization.ts";
export * from "./reconstruction_metrics.ts";
export * from "./sae.ts";
export * from "./steer.ts";
export * from "./tensor.ts";
export * from "./top_k.ts";
