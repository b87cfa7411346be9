/**
 * Dictionaries in the kernels' memory: loading arenas whose matrices `prepare` adopts in place
 * (f32 and int8; for bf16 / f16 the first matrix is loaded there in f32 and halved in place,
 * and the second, an ordinary array, is converted a chunk at a time into the freed half, so the
 * kernels' memory, which cannot shrink, never holds more than the stored bytes), the encoder
 * re-packed into panels and the decoder padded, for int8 an int8 copy of the encoder beside
 * its f32 panels made column-major, and reference counting so that `release` frees memory only
 * once the calls using it have ended.
 * @module
 */

import type { MatrixArena, Prepared } from "../backend.ts";
import type { SaeWeights } from "../../domain/sae/dictionary.ts";
import { SaeError } from "../../domain/errors.ts";
import { type Matrix, matrix } from "../../domain/sae/matrix.ts";
import type { Precision, StreamPrecision } from "../../domain/precision.ts";
import type { KernelCalls } from "./calls.ts";
import { int8Applies, int8Bytes, type Int8Encoder, quantizeEncoder } from "./int8.ts";
import { copyPadded, type Packed, packVector, pad8, precisionBytes } from "./pack.ts";
import { columnMajor, compactInPlace, transposeBlocks } from "./relayout.ts";
import { packStreamed } from "./streamed.ts";

/** What `prepare` puts in the kernels' memory for one dictionary. */
export interface WasmPrepared extends Prepared {
  readonly encoder: Packed;
  readonly decoder: Packed;
  /** For int8: the encoder's int8 copy (its f32 panels, `encoder`, rescore the candidates). */
  readonly int8?: Int8Encoder;
  /** Activation vectors (f32, padded): bias, threshold or magnitude scale, magnitude bias. */
  readonly bias: number;
  readonly thr: number;
  readonly bmag: number;
  readonly allocations: number[];
  /** Calls in flight on it, and whether `release` came: memory is freed when both allow. */
  readonly use: { calls: number; released: boolean };
}

/** Stands in for matrices whose only copy now lives, re-packed, in the kernels' memory. */
const EMPTY: Matrix = matrix([0, 0]);

/** The dictionaries of one WASM backend. */
export class WeightStore {
  /** Stored weight precision. */
  readonly precision: Precision;
  readonly #calls: KernelCalls;
  /** Arena allocations not yet adopted by `prepare`: array -> address. */
  readonly #arenaBlocks = new Map<Float32Array, number>();
  /** Arrays handed out by bf16 / f16 arenas (outside the kernels' memory). */
  readonly #hostArrays = new WeakSet<Float32Array>();

  /** Store dictionaries through `calls` in `options.precision`. */
  constructor(calls: KernelCalls, options: { precision: Precision }) {
    this.#calls = calls;
    this.precision = options.precision;
  }

  /**
   * A new arena for loading one dictionary straight into the kernels' memory. bf16 / f16: the
   * first matrix goes there in f32 and is compacted in place by `prepare`, which hands the
   * freed half to the second, loaded outside as ordinary f32 (so the kernels' memory never
   * holds more than the stored bytes, and loading holds one f32 matrix less).
   */
  arena(): MatrixArena {
    const heap = this.#calls.heap;
    const blocks = this.#arenaBlocks;
    const host = this.#hostArrays;
    const reduced = this.precision === "bf16" || this.precision === "f16";
    const mine = new Set<Float32Array>();
    return {
      alloc(length: number): Float32Array {
        if (reduced && mine.size > 0) {
          const data = new Float32Array(length);
          host.add(data);
          return data;
        }
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
      const arena = (m: Matrix) => this.#arenaBlocks.has(m.data) || this.#hostArrays.has(m.data);
      const inArena = arena(input.wEnc) || arena(input.wDec);
      // bf16 / f16: the matrix compacted in place goes first, so the other takes its freed half.
      const decoderFirst = this.#stream !== "f32" && this.#arenaBlocks.has(input.wDec.data);
      let decoder = decoderFirst ? await this.#prepareDecoder(input.wDec, allocations) : undefined;
      let encoder = await this.#prepareEncoder(input.wEnc, allocations);
      // int8: quantized from the f32 panels, which are then split for the exact rescoring.
      const int8 = this.precision === "int8" && int8Applies(input.activation)
        ? await this.#quantize(encoder, input.wEnc, allocations)
        : undefined;
      if (int8) {
        const at = encoder.ptr;
        const K = input.wEnc.rows;
        const panels = int8.npad / 8;
        await this.#calls.call(undefined, (ctx) => columnMajor(ctx, at, { K, panels }));
        encoder = { ...encoder, columnMajor: true };
      }
      decoder ??= await this.#prepareDecoder(input.wDec, allocations);
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
      const stored = encoder.bytes + decoder.bytes +
        (int8 ? int8Bytes(input.wEnc.rows, int8.npad) : 0);
      const counted = input.wEnc.data.byteLength + input.wDec.data.byteLength;
      return {
        weights,
        extraBytes: stored - counted + 4 * 3 * pad8(weights.dSae),
        encoder,
        decoder,
        int8,
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

  /** The precision the kernels stream encoder and decoder in (int8 keeps f32 copies). */
  get #stream(): StreamPrecision {
    return this.precision === "int8" ? "f32" : this.precision;
  }

  /** `m` in bf16 / f16 at a new block, converted a chunk at a time (panels or padded rows). */
  async #streamed(m: Matrix, panels: boolean, allocations: number[]): Promise<number> {
    const precision = this.#stream;
    if (precision === "f32") throw new RangeError("f32 weights are not streamed");
    const ptr = this.#calls.heap.alloc(m.rows * pad8(m.cols) * 2);
    allocations.push(ptr);
    const overflow = await this.#calls.call(
      undefined,
      (ctx) => packStreamed(ctx, m, { dst: ptr, precision, panels }),
    );
    if (overflow > 0) {
      throw new RangeError("a weight does not fit in f16; use SAESERVE_WEIGHTS=bf16 or f32");
    }
    return ptr;
  }

  /**
   * `m`, an f32 block of the arena, turned into bf16 / f16 in place (panels first when asked)
   * and shrunk to its half; null when `m` is not an arena block.
   */
  async #compacted(m: Matrix, panels: boolean, allocations: number[]): Promise<number | null> {
    const precision = this.#stream;
    if (precision === "f32") throw new RangeError("f32 weights are not compacted");
    const ptr = this.#adopt(m.data);
    if (ptr === null) return null;
    allocations.push(ptr);
    const count = m.rows * m.cols;
    const overflow = await this.#calls.call(undefined, async (ctx) => {
      // Row-major [K, N/8] blocks of 8 floats -> [N/8, K]: the panel layout, then halved.
      if (panels) await transposeBlocks(ctx, ptr, { rows: m.rows, cols: m.cols / 8 });
      return await compactInPlace(ctx, ptr, { count, precision });
    });
    if (overflow > 0) {
      throw new RangeError("a weight does not fit in f16; use SAESERVE_WEIGHTS=bf16 or f32");
    }
    this.#calls.heap.shrink(ptr, count * 2);
    return ptr;
  }

  /** The int8 copy of the encoder whose f32 panels are `encoder`. */
  async #quantize(encoder: Packed, wEnc: Matrix, allocations: number[]): Promise<Int8Encoder> {
    const K = wEnc.rows;
    const npad = pad8(wEnc.cols);
    const dst = this.#calls.heap.alloc(int8Bytes(K, npad));
    allocations.push(dst);
    return await this.#calls.call(
      undefined,
      (ctx) => quantizeEncoder(ctx, encoder.ptr, { K, npad, dst }),
    );
  }

  /** The encoder as panels of 8 columns (f32: re-packed in place, adopted from the arena or copied). */
  async #prepareEncoder(wEnc: Matrix, allocations: number[]): Promise<Packed> {
    const heap = this.#calls.heap;
    const esize = precisionBytes(this.#stream);
    const K = wEnc.rows;
    const npad = pad8(wEnc.cols);
    const packed = (ptr: number): Packed => ({
      ptr,
      bytes: K * npad * esize,
      ldb: 8 * esize,
      panelStride: K * 8 * esize,
    });
    if (this.#stream !== "f32") {
      const done = npad === wEnc.cols ? await this.#compacted(wEnc, true, allocations) : null;
      return packed(done ?? await this.#streamed(wEnc, true, allocations));
    }
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
    return packed(ptr);
  }

  /** The decoder row-major with rows padded to 8 (f32: adopted from the arena or copied). */
  async #prepareDecoder(wDec: Matrix, allocations: number[]): Promise<Packed> {
    const heap = this.#calls.heap;
    const esize = precisionBytes(this.#stream);
    const npad = pad8(wDec.cols);
    const packed = (ptr: number): Packed => ({
      ptr,
      bytes: wDec.rows * npad * esize,
      ldb: npad * esize,
      panelStride: 8 * esize,
    });
    if (this.#stream !== "f32") {
      const done = npad === wDec.cols ? await this.#compacted(wDec, false, allocations) : null;
      return packed(done ?? await this.#streamed(wDec, false, allocations));
    }
    let ptr = npad === wDec.cols ? this.#adopt(wDec.data) : null;
    if (ptr === null) {
      ptr = heap.alloc(wDec.rows * npad * 4);
      copyPadded(heap, wDec, { ptr, ld: npad });
    }
    allocations.push(ptr);
    return packed(ptr);
  }
}
