/**
 * The SAE activations as plain math: dense codes f of one row from its pre-activation
 * p = s @ W_enc, their sparse form, and both over a matrix of rows. The reference backend
 * computes with these; the WASM and WebGPU backends use them where an activation needs whole
 * rows (groupmax) or has no fused kernel (tanh_relu, topk_signed), so every backend shares one
 * definition.
 * @module
 */

import type { Activation } from "./dictionary.ts";
import { type Matrix, row, type SparseRows } from "./matrix.ts";
import { type Selection, topK } from "./top_k.ts";

/** Dense codes f of one row from its pre-activation p = s @ W_enc (length d_sae). */
export function activate(activation: Activation, p: Float32Array): Float32Array {
  const f = new Float32Array(p.length);
  switch (activation.kind) {
    case "relu":
      for (let i = 0; i < p.length; i++) f[i] = Math.max(0, p[i] + activation.bEnc[i]);
      return f;
    case "tanh_relu":
      for (let i = 0; i < p.length; i++) {
        f[i] = Math.tanh(Math.max(0, Math.fround(p[i] + activation.bEnc[i])));
      }
      return f;
    case "jumprelu":
      for (let i = 0; i < p.length; i++) {
        const h = Math.fround(p[i] + activation.bEnc[i]);
        f[i] = h > activation.threshold[i] ? Math.max(0, h) : 0;
      }
      return f;
    case "gated":
      for (let i = 0; i < p.length; i++) {
        const g = Math.fround(p[i] + activation.bGate[i]);
        const m = Math.fround(Math.fround(p[i] * activation.magScale[i]) + activation.bMag[i]);
        f[i] = g > 0 ? Math.max(0, m) : 0;
      }
      return f;
    case "topk": {
      const h = new Float32Array(p.length);
      for (let i = 0; i < p.length; i++) h[i] = p[i] + activation.bEnc[i];
      const chosen = topK(h, activation.k);
      for (let j = 0; j < chosen.indices.length; j++) {
        f[chosen.indices[j]] = Math.max(0, chosen.values[j]);
      }
      return f;
    }
    case "topk_signed": {
      const h = new Float32Array(p.length);
      for (let i = 0; i < p.length; i++) h[i] = p[i] + activation.bEnc[i];
      const chosen = topK(h, activation.k);
      for (let j = 0; j < chosen.indices.length; j++) f[chosen.indices[j]] = chosen.values[j];
      return f;
    }
    case "groupmax": {
      const size = p.length / activation.k;
      for (let g = 0; g < activation.k; g++) {
        let best = g * size;
        let bestValue = -Infinity;
        for (let i = g * size; i < (g + 1) * size; i++) {
          const h = Math.max(0, Math.fround(p[i] + activation.bEnc[i]));
          if (h > bestValue) {
            bestValue = h;
            best = i;
          }
        }
        f[best] = bestValue;
      }
      return f;
    }
  }
}

/**
 * Sparse form of dense codes: non-zero entries, value descending, ties by lower index (signed
 * codes list their negative entries last; `top` keeps the largest values).
 */
export function sparsify(f: Float32Array, top?: number): Selection {
  return topK(f, top ?? f.length, { keep: (v) => v !== 0 });
}

/**
 * Sparse codes of every row of pre-activations `p` [rows, d_sae]: the activation, then at most
 * `top` non-zero codes per row (default: all).
 */
export function activateRows(
  activation: Activation,
  p: Matrix,
  options?: { top?: number },
): SparseRows {
  const indices: Int32Array[] = [];
  const values: Float32Array[] = [];
  for (let r = 0; r < p.rows; r++) {
    const chosen = sparsify(activate(activation, row(p, r)), options?.top);
    indices.push(chosen.indices);
    values.push(chosen.values);
  }
  return { width: p.cols, indices, values };
}
