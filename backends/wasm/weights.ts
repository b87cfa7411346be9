/**
 * Dictionaries in the kernels' memory: loading arenas whose matrices `prepare` adopts in place,
 * the encoder re-packed into panels and the decoder padded (both compacted to bf16 or f16 by the
 * workers when asked), and reference counting so that `release` frees memory only once the
 * calls using it have ended.
 * @module
 */

import type { MatrixArena, Prepared } from "../backend.ts";
import type { SaeWeights } from "../../domain/sae/dictionary.ts";
import { SaeError } from "../../domain/errors.ts";
import { type Matrix, matrix } from "../../domain/sae/matrix.ts";
import type { Precision } from "../../domain/precision.ts";
import type { KernelCalls } from "./calls.ts";
import { copyPadded, type Packed, packVector, pad8, precisionBytes } from "./pack.ts";
import { compactInPlace, transposeBlocks } from "./relayout.ts";

/** What `prepare` puts in the kernels' memory for one dictionary. */
export interface WasmPrepared extends Prepared {
  readonly encoder: Packed;
  readonly decoder: Packed;
  /** Activation vectors (f32, padded): bias, threshold or magnitude scale, magnitude bias. */
  readonly bias: number;
  readonly thr: number;
  readonly bmag: number;
  readonly allocations: number[];
  /** Calls in flight on it, and whether `release` came: memory is freed when both allow. */
  readonly use: { calls: number; released: boolean };
}

/** Stands in for matrices whose only copy now lives, re-packed, in the kernels' memory. */
const EMPTY: Matrix = matrix(0, 0);

/** The dictionaries of one WASM backend. */
export class WeightStore {
  /** Stored weight precision. */
  readonly precision: Precision;
  readonly #calls: KernelCalls;
  /** Arena allocations not yet adopted by `prepare`: array -> address. */
  readonly #arenaBlocks = new Map<Float32Array, number>();

  /** Store dictionaries through `calls` in `options.precision`. */
  constructor(calls: KernelCalls, options: { precision: Precision }) {
    this.#calls = calls;
    this.precision = options.precision;
  }

  /** A new arena for loading one dictionary straight into the kernels' memory. */
  arena(): MatrixArena {
    const heap = this.#calls.heap;
    const blocks = this.#arenaBlocks;
    const mine = new Set<Float32Array>();
    return {
      alloc(length: number): Float32Array {
        const ptr = heap.alloc(length * 4);
        const data = heap.f32(ptr, length);
        data.fill(0);
        blocks.set(data, ptr);
        mine.add(data);
        return data;
      },
      dispose(): void {
        for (const data of mine) {
          const ptr = blocks.get(data);
          if (ptr !== undefined) {
            blocks.delete(data);
            heap.free(ptr);
          }
        }
        mine.clear();
      },
    };
  }

  /** Re-pack `input` into the kernels' memory (adopting arena matrices in place). */
  async prepare(input: SaeWeights): Promise<WasmPrepared> {
    const heap = this.#calls.heap;
    const allocations: number[] = [];
    try {
      const inArena = this.#arenaBlocks.has(input.wEnc.data) ||
        this.#arenaBlocks.has(input.wDec.data);
      const encoder = await this.#prepareEncoder(input.wEnc, allocations);
      const decoder = await this.#prepareDecoder(input.wDec, allocations);
      // Matrices adopted from the arena now hold the kernels' layouts: keep no stale views.
      const weights: SaeWeights = inArena ? { ...input, wEnc: EMPTY, wDec: EMPTY } : input;
      const a = weights.activation;
      const vec = (v: Float32Array | undefined) => {
        if (!v) return 0;
        const ptr = packVector(heap, v);
        allocations.push(ptr);
        return ptr;
      };
      const bias = vec(a.kind === "gated" ? a.bGate : a.bEnc);
      const thr = vec(
        a.kind === "jumprelu" ? a.threshold : a.kind === "gated" ? a.magScale : undefined,
      );
      const bmag = vec(a.kind === "gated" ? a.bMag : undefined);
      // The kernels' copies replace what the registry counted for the f32 weights.
      const stored = encoder.bytes + decoder.bytes;
      const counted = input.wEnc.data.byteLength + input.wDec.data.byteLength;
      return {
        weights,
        extraBytes: stored - counted + 4 * 3 * pad8(weights.dSae),
        encoder,
        decoder,
        bias,
        thr,
        bmag,
        allocations,
        use: { calls: 0, released: false },
      };
    } catch (e) {
      this.#calls.freeAfter(e, allocations);
      throw e;
    }
  }

  /** Free a prepared dictionary's memory now, or when its last call in flight ends. */
  release(prepared: Prepared): void {
    const p = prepared as WasmPrepared;
    if (p.use.released) return;
    p.use.released = true;
    if (p.use.calls === 0) this.#free(p);
  }

  /** Run `fn` on a prepared dictionary, keeping its memory alive until it ends. */
  async using<T>(prepared: Prepared, fn: (p: WasmPrepared) => Promise<T>): Promise<T> {
    const p = prepared as WasmPrepared;
    if (p.use.released) throw new SaeError("unavailable", "the dictionary was released");
    p.use.calls++;
    try {
      return await fn(p);
    } finally {
      if (--p.use.calls === 0 && p.use.released) this.#free(p);
    }
  }

  #free(p: WasmPrepared): void {
    for (const ptr of p.allocations.splice(0)) this.#calls.heap.free(ptr);
  }

  /** Take over an arena array as a block of the kernels' memory (null if it is not one). */
  #adopt(data: Float32Array): number | null {
    const ptr = this.#arenaBlocks.get(data);
    if (ptr === undefined) return null;
    this.#arenaBlocks.delete(data);
    return ptr;
  }

  /** Convert an f32 block to the stored precision in place, releasing the spare half. */
  async #compact(ptr: number, count: number): Promise<void> {
    const precision = this.precision;
    if (precision === "f32" || count === 0) return;
    const overflow = await this.#calls.call(
      undefined,
      (ctx) => compactInPlace(ctx, ptr, { count, precision }),
    );
    if (overflow > 0) {
      throw new RangeError("a weight does not fit in f16; use SAESERVE_WEIGHTS=bf16 or f32");
    }
    this.#calls.heap.shrink(ptr, count * 2);
  }

  /** The encoder as panels of 8 columns, re-packed in place (adopted from the arena or copied). */
  async #prepareEncoder(wEnc: Matrix, allocations: number[]): Promise<Packed> {
    const heap = this.#calls.heap;
    const esize = precisionBytes(this.precision);
    const K = wEnc.rows;
    const npad = pad8(wEnc.cols);
    let ptr = npad === wEnc.cols ? this.#adopt(wEnc.data) : null;
    if (ptr === null) {
      ptr = heap.alloc(K * npad * 4);
      copyPadded(heap, wEnc, { ptr, ld: npad });
    }
    allocations.push(ptr);
    // Row-major [K, npad/8] blocks of 8 floats -> [npad/8, K] blocks: the panel layout.
    const at = ptr;
    await this.#calls.call(
      undefined,
      (ctx) => transposeBlocks(ctx, at, { rows: K, cols: npad / 8 }),
    );
    await this.#compact(ptr, K * npad);
    return { ptr, bytes: K * npad * esize, ldb: 8 * esize, panelStride: K * 8 * esize };
  }

  /** The decoder row-major with rows padded to 8 (adopted from the arena or copied). */
  async #prepareDecoder(wDec: Matrix, allocations: number[]): Promise<Packed> {
    const heap = this.#calls.heap;
    const esize = precisionBytes(this.precision);
    const npad = pad8(wDec.cols);
    let ptr = npad === wDec.cols ? this.#adopt(wDec.data) : null;
    if (ptr === null) {
      ptr = heap.alloc(wDec.rows * npad * 4);
      copyPadded(heap, wDec, { ptr, ld: npad });
    }
    allocations.push(ptr);
    await this.#compact(ptr, wDec.rows * npad);
    return { ptr, bytes: wDec.rows * npad * esize, ldb: npad * esize, panelStride: 8 * esize };
  }
}
