/**
 * The `reference` compute backend: plain TypeScript loops written for clarity, not speed. It
 * is the oracle the WASM and WebGPU backends are tested against, so every step follows the
 * definitions in `dictionary.ts` literally (the activations: domain/sae/activation.ts).
 * @module
 */

import type { Backend, CallOptions, DeviceInfo, EncodeOptions, Prepared } from "../backend.ts";
import type { SaeWeights } from "../../domain/sae/dictionary.ts";
import { type Matrix, matrix, row, type SparseRows } from "../../domain/sae/matrix.ts";
import { activateRows } from "../../domain/sae/activation.ts";
import { topKRows } from "../top_k_rows.ts";

/** Sum of `value * W_dec[index]` over one row's sparse codes, accumulated into `out`. */
function addDecoderRows(
  w: SaeWeights,
  indices: Int32Array,
  values: Float32Array,
  scale: number,
  out: Float32Array,
): void {
  for (let j = 0; j < indices.length; j++) {
    const d = row(w.wDec, indices[j]);
    const v = values[j] * scale;
    for (let c = 0; c < out.length; c++) out[c] += v * d[c];
  }
}

/** The plain TypeScript backend. */
export function referenceBackend(): Backend {
  const backend: Backend = {
    name: "reference",
    device: (): DeviceInfo => ({ adapter: "CPU (plain TypeScript, one thread)", software: false }),
    prepare(weights: SaeWeights): Promise<Prepared> {
      return Promise.resolve({ weights, extraBytes: 0 });
    },
    release(): void {},
    async encode(prepared: Prepared, s: Matrix, options?: EncodeOptions): Promise<SparseRows> {
      options?.signal?.throwIfAborted();
      const w = prepared.weights;
      const p = await backend.matmul(s, w.wEnc);
      return activateRows(w.activation, p, { top: options?.top });
    },
    decodeSparse(
      prepared: Prepared,
      codes: SparseRows,
      options?: { bias?: boolean } & CallOptions,
    ): Promise<Matrix> {
      if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
      const w = prepared.weights;
      const out = matrix([codes.indices.length, w.dIn]);
      for (let r = 0; r < out.rows; r++) {
        const y = row(out, r);
        if (options?.bias !== false) y.set(w.bDec);
        addDecoderRows(w, codes.indices[r], codes.values[r], 1, y);
      }
      return Promise.resolve(out);
    },
    async decodeDense(
      prepared: Prepared,
      codes: Matrix,
      options?: { bias?: boolean } & CallOptions,
    ): Promise<Matrix> {
      options?.signal?.throwIfAborted();
      const w = prepared.weights;
      const out = await backend.matmul(codes, w.wDec);
      if (options?.bias !== false) {
        for (let r = 0; r < out.rows; r++) {
          const y = row(out, r);
          for (let c = 0; c < w.dIn; c++) y[c] += w.bDec[c];
        }
      }
      return out;
    },
    steer(
      prepared: Prepared,
      x: Matrix,
      deltas: SparseRows,
      options?: { rowScale?: Float32Array } & CallOptions,
    ): Promise<Matrix> {
      if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
      const out = matrix([x.rows, x.cols], x.data.slice());
      for (let r = 0; r < x.rows; r++) {
        const scale = options?.rowScale?.[r] ?? 1;
        addDecoderRows(prepared.weights, deltas.indices[r], deltas.values[r], scale, row(out, r));
      }
      return Promise.resolve(out);
    },
    matmul(
      a: Matrix,
      b: Matrix,
      options?: { transposeB?: boolean } & CallOptions,
    ): Promise<Matrix> {
      if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
      const t = options?.transposeB ?? false;
      const inner = t ? b.cols : b.rows;
      const n = t ? b.rows : b.cols;
      if (a.cols !== inner) {
        return Promise.reject(new RangeError(`matmul: ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`));
      }
      // Accumulate in f64, round once: the most accurate order-independent oracle.
      const out = matrix([a.rows, n]);
      const acc = new Float64Array(n);
      for (let r = 0; r < a.rows; r++) {
        acc.fill(0);
        for (let k = 0; k < inner; k++) {
          const av = a.data[r * a.cols + k];
          if (av === 0) continue;
          if (t) {
            for (let c = 0; c < n; c++) acc[c] += av * b.data[c * b.cols + k];
          } else {
            const bRow = b.data.subarray(k * n, (k + 1) * n);
            for (let c = 0; c < n; c++) acc[c] += av * bRow[c];
          }
        }
        out.data.set(acc, r * n);
      }
      return Promise.resolve(out);
    },
    topK(m: Matrix, k: number, options?: CallOptions): Promise<SparseRows> {
      if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
      return Promise.resolve(topKRows(m, k));
    },
  };
  return backend;
}
