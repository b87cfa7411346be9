/**
 * The canonical SAE every checkpoint family is mapped onto. Loaders translate their files to
 * this; the pipeline and the compute backends only ever see this.
 *
 * Encode of one row x (d_in):
 *   stats = normalization statistics of x
 *   s = normIn(x) - preBias                  (preBias: b_dec when the family subtracts it)
 *   p = s @ W_enc                            ([d_sae])
 *   f = activation(p)                        (see {@link Activation})
 * Decode of codes f (d_sae):
 *   y = f @ W_dec + b_dec  (+ x @ W_skip^T for sparsify skip connections)
 *   out = normOut(y, stats)
 * @module
 */

import type { Matrix } from "./matrix.ts";

/** How a pre-activation row p = s @ W_enc becomes codes. Vectors are length d_sae. */
export type Activation =
  /** f = relu(p + b_enc) */
  | { readonly kind: "relu"; readonly bEnc: Float32Array }
  /** h = p + b_enc; f = h > threshold ? relu(h) : 0 (strict) */
  | { readonly kind: "jumprelu"; readonly bEnc: Float32Array; readonly threshold: Float32Array }
  /**
   * h = p + b_enc; keep the k largest h (ties: lower index), then relu. Scaling by decoder
   * norms (SAELens rescale_acts_by_decoder_norm) is folded into the weights at load.
   */
  | { readonly kind: "topk"; readonly bEnc: Float32Array; readonly k: number }
  /**
   * h = p + b_enc; keep the k largest h as they are, negative ones included (ties: lower
   * index), the others 0 (saev TopK). A kind of its own, not a flag on topk, so that every
   * exhaustive switch has to decide how to compute it.
   */
  | { readonly kind: "topk_signed"; readonly bEnc: Float32Array; readonly k: number }
  /** f = tanh(relu(p + b_enc)) (SAELens 5.x activation_fn "tanh-relu"). */
  | { readonly kind: "tanh_relu"; readonly bEnc: Float32Array }
  /** g = p + b_gate; m = p * exp(r_mag) + b_mag; f = g > 0 ? relu(m) : 0. `magScale` = exp(r_mag). */
  | {
    readonly kind: "gated";
    readonly bGate: Float32Array;
    readonly magScale: Float32Array;
    readonly bMag: Float32Array;
  }
  /** h = relu(p + b_enc); k contiguous groups of d_sae/k latents; keep each group's max (ties: lower index). */
  | { readonly kind: "groupmax"; readonly bEnc: Float32Array; readonly k: number };

/** Per-row input normalization, undone on the output side with the same row's statistics. */
export type Normalization = "none" | "constant_norm_rescale" | "layer_norm";

/** A dictionary ready for the compute backends. Matrices are row-major f32. */
export interface SaeWeights {
  readonly dIn: number;
  readonly dSae: number;
  /** [d_in, d_sae] */
  readonly wEnc: Matrix;
  /** [d_sae, d_in] */
  readonly wDec: Matrix;
  /** [d_in] added after decoding. */
  readonly bDec: Float32Array;
  /** [d_in] subtracted from the normalized input before encoding, or null. */
  readonly preBias: Float32Array | null;
  readonly activation: Activation;
  readonly normalization: Normalization;
  /** [d_in, d_in] sparsify skip connection (y += x @ W_skip^T), or null. */
  readonly wSkip: Matrix | null;
}

/** Bytes held by a dictionary's arrays (what the memory budget counts). */
export function weightBytes(w: SaeWeights): number {
  let n = w.wEnc.data.byteLength + w.wDec.data.byteLength + w.bDec.byteLength;
  if (w.preBias) n += w.preBias.byteLength;
  if (w.wSkip) n += w.wSkip.data.byteLength;
  const a = w.activation;
  switch (a.kind) {
    case "relu":
    case "tanh_relu":
    case "topk":
    case "topk_signed":
    case "groupmax":
      n += a.bEnc.byteLength;
      break;
    case "jumprelu":
      n += a.bEnc.byteLength + a.threshold.byteLength;
      break;
    case "gated":
      n += a.bGate.byteLength + a.magScale.byteLength + a.bMag.byteLength;
      break;
  }
  return n;
}
