/**
 * A trained dictionary as a SAELens v6 folder the service loads as is: cfg.json,
 * sae_weights.safetensors (normalization already folded into the weights; BatchTopK saved as
 * jumprelu with its threshold) and metrics.json (loss curve and final L0, FVU, dead fraction).
 * @module
 */

import { encodeSafetensors, type TensorToWrite } from "../io/safetensors.ts";
import type { TrainArchitecture } from "./objective.ts";
import type { TrainResult } from "./trainer.ts";

/** The files of a SAELens folder, by name. */
export type SaeLensFiles = Map<string, Uint8Array<ArrayBuffer>>;

/** Serialize a training result as SAELens files. */
export function saeLensFiles(
  result: TrainResult,
  options: {
    architecture: TrainArchitecture;
    k?: number;
    /** Free-form facts kept in cfg.json metadata and metrics.json (data path, steps, ...). */
    metadata?: Record<string, unknown>;
  },
): SaeLensFiles {
  const p = result.params;
  const saved = options.architecture === "batchtopk"
    ? "jumprelu"
    : options.architecture === "relu"
    ? "standard"
    : options.architecture;
  const cfg: Record<string, unknown> = {
    architecture: saved,
    d_in: p.dIn,
    d_sae: p.dSae,
    dtype: "float32",
    device: "cpu",
    apply_b_dec_to_input: true,
    normalize_activations: "none",
    reshape_activations: "none",
    metadata: {
      sae_lens_version: "6.0.0",
      trained_by: "saeserve",
      trained_architecture: options.architecture,
      activation_scale_folded: result.scale,
      ...options.metadata,
    },
  };
  if (saved === "topk") {
    cfg.k = options.k;
    cfg.rescale_acts_by_decoder_norm = false;
  }
  const tensors: Record<string, TensorToWrite> = {
    W_enc: { shape: [p.dIn, p.dSae], data: p.wEnc },
    W_dec: { shape: [p.dSae, p.dIn], data: p.wDec },
    b_enc: { shape: [p.dSae], data: p.bEnc },
    b_dec: { shape: [p.dIn], data: p.bDec },
  };
  if (saved === "jumprelu") tensors.threshold = { shape: [p.dSae], data: result.threshold! };
  const enc = new TextEncoder();
  const metrics = {
    architecture: options.architecture,
    final: { l0: result.final.l0, fvu: result.final.fvu, dead_fraction: result.final.deadFraction },
    curve: result.curve.map((c) => ({
      step: c.step,
      loss: c.loss,
      mse: c.mse,
      fvu: c.fvu,
      l0: c.l0,
      dead_fraction: c.deadFraction,
      lr: c.lr,
    })),
    ...options.metadata,
  };
  return new Map([
    ["cfg.json", enc.encode(JSON.stringify(cfg, null, 2) + "\n")],
    ["sae_weights.safetensors", encodeSafetensors(tensors, { metadata: { format: "pt" } })],
    ["metrics.json", enc.encode(JSON.stringify(metrics, null, 2) + "\n")],
  ]);
}
