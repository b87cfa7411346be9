/**
 * The WASM backend's compute methods on prepared dictionaries: encode (fused, or dense
 * pre-activations then the activation for groupmax, tanh_relu and topk_signed), sparse and dense decode, steer, and a
 * plain f32 matmul, each one kernel call (wasm/calls.ts).
 * @module
 */

import type { CallOptions, EncodeOptions } from "../backend.ts";
import { activateRows } from "../../domain/sae/activation.ts";
import { type Matrix, row, type SparseRows } from "../../domain/sae/matrix.ts";
import type { Precision } from "../../domain/precision.ts";
import { nonZeroRows } from "../top_k_rows.ts";
import type { KernelCalls } from "./calls.ts";
import { decoderRows } from "./decoder_rows.ts";
import { encodeFused, gemm } from "./gemm.ts";
import { encodeInt8 } from "./int8_encode.ts";
import { copyPadded, type Packed, pad8 } from "./pack.ts";
import { ACT, PREC } from "./params.ts";
import { transposeInto } from "./relayout.ts";
import type { WasmPrepared } from "./weights.ts";

/** Throw a RangeError for a feature index outside [0, dSae). */
export function checkIndices(codes: SparseRows, dSae: number): void {
  for (const ix of codes.indices) {
    for (let j = 0; j < ix.length; j++) {
      if (!(ix[j] >= 0 && ix[j] < dSae)) {
        throw new RangeError(`feature index ${ix[j]} outside [0, ${dSae})`);
      }
    }
  }
}

/** Compute on dictionaries stored in one precision. */
export class WasmCompute {
  readonly #calls: KernelCalls;
  /** The `PREC` code of the streamed encoder and decoder (int8 streams f32 copies). */
  readonly #prec: number;

  /** Compute through `calls` on weights stored in `options.precision`. */
  constructor(calls: KernelCalls, options: { precision: Precision }) {
    this.#calls = calls;
    this.#prec = options.precision === "int8" ? PREC.f32 : PREC[options.precision];
  }

  /** Sparse codes of rows `s`, at most `options.top` per row. */
  encode(p: WasmPrepared, s: Matrix, options?: EncodeOptions): Promise<SparseRows> {
    const w = p.weights;
    if (s.cols !== w.dIn) {
      throw new RangeError(`encode: rows of ${s.cols} values for d_in ${w.dIn}`);
    }
    const a = w.activation;
    const top = options?.top;
    const prec = this.#prec;
    // Dictionaries the int8 encode serves have an int8 copy (wasm/int8.ts int8Applies).
    const int8 = p.int8;
    const fused = (act: number, cap: number) =>
      this.#calls.call(options, (ctx) => {
        const common = { encoder: p.encoder, dSae: w.dSae, act, cap };
        const vectors = { bias: p.bias, thr: p.thr, bmag: p.bmag };
        return int8
          ? encodeInt8(ctx, s, { ...common, ...vectors, int8 })
          : encodeFused(ctx, s, { ...common, ...vectors, prec });
      });
    switch (a.kind) {
      case "relu":
        return fused(ACT.relu, top ?? 0);
      case "jumprelu":
        return fused(ACT.jumprelu, top ?? 0);
      case "gated":
        return fused(ACT.gated, top ?? 0);
      case "topk":
        return fused(ACT.relu, Math.min(a.k, top ?? a.k));
      case "groupmax":
      case "tanh_relu":
      case "topk_signed":
        // Per-group maxima need whole groups, and tanh / unrectified top-k have no fused
        // epilogue: dense pre-activations, then the shared activation.
        return this.#calls.call(options, async (ctx) => {
          const pre = await gemm(ctx, s, { b: p.encoder, n: w.dSae, prec });
          return activateRows(a, pre, { top });
        });
    }
  }

  /** y = codes @ W_dec (+ b_dec unless `bias: false`), sparse codes. */
  decodeSparse(
    p: WasmPrepared,
    codes: SparseRows,
    options?: { bias?: boolean } & CallOptions,
  ): Promise<Matrix> {
    const withBias = options?.bias !== false;
    return this.#decoderSum(p, codes, {
      ...options,
      init: (_, out) => withBias && out.set(p.weights.bDec),
    });
  }

  /** y = codes @ W_dec (+ b_dec unless `bias: false`), dense codes [rows, d_sae]. */
  async decodeDense(
    p: WasmPrepared,
    codes: Matrix,
    options?: { bias?: boolean } & CallOptions,
  ): Promise<Matrix> {
    const w = p.weights;
    if (codes.cols !== w.dSae) {
      throw new RangeError(`decode: codes of width ${codes.cols} for d_sae ${w.dSae}`);
    }
    let nonzero = 0;
    for (let i = 0; i < codes.data.length; i++) if (codes.data[i] !== 0) nonzero++;
    if (nonzero <= codes.data.length / 8) {
      // Mostly zeros (SAE codes): sum the decoder rows of the non-zeros.
      return await this.decodeSparse(p, nonZeroRows(codes), options);
    }
    // Dense codes: a GEMM against the row-major decoder.
    const prec = this.#prec;
    const out = await this.#calls.call(
      options,
      (ctx) => gemm(ctx, codes, { b: p.decoder, n: w.dIn, prec }),
    );
    if (options?.bias !== false) {
      for (let r = 0; r < out.rows; r++) {
        const y = row(out, r);
        for (let c = 0; c < w.dIn; c++) y[c] += w.bDec[c];
      }
    }
    return out;
  }

  /** out[r] = x[r] + rowScale[r] * sum_j deltas[r][j] * W_dec[j] (rowScale defaults to 1). */
  steer(
    p: WasmPrepared,
    x: Matrix,
    options: { deltas: SparseRows; rowScale?: Float32Array } & CallOptions,
  ): Promise<Matrix> {
    const { deltas, rowScale } = options;
    if (x.cols !== p.weights.dIn || deltas.indices.length !== x.rows) {
      throw new RangeError(
        `steer: ${x.rows}x${x.cols} activations, ${deltas.indices.length} rows of deltas`,
      );
    }
    return this.#decoderSum(p, deltas, {
      ...options,
      init: (r, out) => out.set(row(x, r)),
      scale: (r) => rowScale?.[r] ?? 1,
    });
  }

  /** a [m, k] @ b [k, n], or a @ b^T when `transposeB` (b is [n, k]), in f32. */
  matmul(a: Matrix, b: Matrix, options?: { transposeB?: boolean } & CallOptions): Promise<Matrix> {
    const t = options?.transposeB ?? false;
    const inner = t ? b.cols : b.rows;
    const n = t ? b.rows : b.cols;
    if (a.cols !== inner) {
      return Promise.reject(new RangeError(`matmul: ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`));
    }
    const heap = this.#calls.heap;
    return this.#calls.call(options, async (ctx) => {
      // B as a row-major [inner, n] f32 operand, rows padded to 8 (transposed by the workers).
      const npad = pad8(n);
      const ptr = ctx.alloc(inner * npad * 4);
      if (t) {
        if (npad !== n) heap.f32(ptr, inner * npad).fill(0);
        await transposeInto(ctx, b, { dst: ptr, ldd: npad });
      } else copyPadded(heap, b, { ptr, ld: npad });
      const operand: Packed = { ptr, bytes: inner * npad * 4, ldb: npad * 4, panelStride: 32 };
      return await gemm(ctx, a, { b: operand, n, prec: PREC.f32 });
    });
  }

  /** Sparse codes times the decoder, each output row started by `init`. */
  #decoderSum(
    p: WasmPrepared,
    codes: SparseRows,
    options: CallOptions & {
      init: (r: number, out: Float32Array) => void;
      scale?: (r: number) => number;
    },
  ): Promise<Matrix> {
    checkIndices(codes, p.weights.dSae);
    const prec = this.#prec;
    return this.#calls.call(options, (ctx) =>
      decoderRows(ctx, codes, {
        decoder: p.decoder,
        dIn: p.weights.dIn,
        prec,
        init: options.init,
        scale: options.scale,
      }));
  }
}
