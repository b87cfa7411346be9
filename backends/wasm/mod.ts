/**
 * The `wasm` compute backend: AssemblyScript SIMD kernels (wasm/assembly/kernels.ts, built by
 * `deno task wasm`) on one shared WebAssembly.Memory, run by a pool of worker threads that
 * split the latent dimension. The calling thread runs no kernel: each call is cut into bounded
 * rounds (wasm/ops.ts) that queue at the pool, live before research, and the caller awaits
 * them, so its event loop stays free. Weights are re-packed once at `prepare` (by the workers)
 * into the layouts the kernels stream, in f32, bf16 or f16.
 * @module
 */

import type {
  Backend,
  BackendHealth,
  CallOptions,
  EncodeOptions,
  MatrixArena,
  Prepared,
} from "../backend.ts";
import type { SaeWeights } from "../../domain/sae/dictionary.ts";
import { SaeError } from "../../domain/errors.ts";
import { type Matrix, matrix, row, type SparseRows } from "../../domain/sae/matrix.ts";
import { activate, sparsify } from "../reference/mod.ts";
import { topK } from "../../domain/sae/top_k.ts";
import { SharedHeap } from "./heap.ts";
import { compileKernels } from "./kernels_module.ts";
import {
  type CallContext,
  compactInPlace,
  decoderRows,
  encodeFused,
  gemm,
  transposeBlocks,
  transposeInto,
} from "./ops.ts";
import { type Packed, packVector, pad8, precisionBytes, type WeightPrecision } from "./pack.ts";
import { ACT, PREC } from "./params.ts";
import { KernelPool, KernelStuckError } from "./pool.ts";

export type { WeightPrecision } from "./pack.ts";
export { DEFAULT_WATCHDOG_MS, KernelStuckError } from "./pool.ts";

/** Default work between checkpoints: 2^24 multiply-adds, a few milliseconds. */
export const DEFAULT_CHECKPOINT_WORK = 1 << 24;

/** Options of {@link wasmBackend}. */
export interface WasmBackendOptions {
  /** Worker threads, all taking part in each kernel call (default: the machine's cores). */
  threads?: number;
  /** Stored weight precision (default f32). */
  weights?: WeightPrecision;
  /**
   * A kernel round in which no job finishes for this long (ms) replaces the workers and fails
   * the stuck call with SaeError "unavailable" (default 30000).
   */
  watchdogMs?: number;
  /**
   * Multiply-adds a worker does between checkpoints (default {@link DEFAULT_CHECKPOINT_WORK}):
   * how long a research call keeps the workers after live work arrives or it is aborted.
   */
  checkpointWork?: number;
  /** Told each time the watchdog (or a dead worker) replaces the workers, with the reason. */
  onReplaced?: (reason: string) => void;
}

/** A backend that also owns threads: close it when done. */
export interface WasmBackend extends Backend {
  /** Worker threads per kernel call. */
  readonly threads: number;
  /** Stored weight precision. */
  readonly precision: WeightPrecision;
  /** The kernel workers (queue depth, replacements; tests inject jobs through it). */
  readonly pool: KernelPool;
  /** The kernels' memory. */
  readonly heap: SharedHeap;
  /** Unhealthy while the workers are being replaced or could not be. */
  health(): BackendHealth;
  /** Stop the workers; later calls fail with SaeError "unavailable". */
  close(): void;
}

/** What `prepare` puts in the kernels' memory for one dictionary. */
interface WasmPrepared extends Prepared {
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

/** Threads to use when not told: the machine's logical cores. */
export function defaultThreads(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/** Reject with `signal.reason` as soon as it aborts, else settle like `work`. */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function checkIndices(codes: SparseRows, dSae: number): void {
  for (const ix of codes.indices) {
    for (let j = 0; j < ix.length; j++) {
      if (!(ix[j] >= 0 && ix[j] < dSae)) {
        throw new RangeError(`feature index ${ix[j]} outside [0, ${dSae})`);
      }
    }
  }
}

/** Copy a matrix into `ptr` with rows padded (with zeros) to `ld` floats. */
function copyPadded(heap: SharedHeap, m: Matrix, options: { ptr: number; ld: number }): void {
  const dst = heap.f32(options.ptr, m.rows * options.ld);
  if (options.ld === m.cols) {
    dst.set(m.data);
    return;
  }
  for (let r = 0; r < m.rows; r++) {
    dst.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), r * options.ld);
    dst.fill(0, r * options.ld + m.cols, (r + 1) * options.ld);
  }
}

/** Start the WASM backend (compiles the kernels, starts `threads` workers). */
export async function wasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const module = await compileKernels();
  const threads = Math.max(1, Math.floor(options.threads ?? defaultThreads()));
  const precision = options.weights ?? "f32";
  if (!(precision in PREC)) throw new RangeError(`unknown weight precision ${precision}`);
  const checkpointWork = Math.max(1024, options.checkpointWork ?? DEFAULT_CHECKPOINT_WORK);
  const memory = new WebAssembly.Memory({ initial: 32, maximum: 65536, shared: true });
  // The kernels keep no statics in memory (no data segments, no globals), so the first MiB
  // is simply left unused.
  const heap = new SharedHeap(memory, 1 << 20);
  const pool = await KernelPool.start(module, heap, {
    threads,
    watchdogMs: options.watchdogMs,
    onReplaced: options.onReplaced,
  });
  const prec = PREC[precision];
  const esize = precisionBytes(precision);
  let closed = false;

  /** Arena allocations not yet adopted by `prepare`: array -> address. */
  const arenaBlocks = new Map<Float32Array, number>();

  /** Take over an arena array as a block of the kernels' memory (null if it is not one). */
  function adopt(data: Float32Array): number | null {
    const ptr = arenaBlocks.get(data);
    if (ptr === undefined) return null;
    arenaBlocks.delete(data);
    return ptr;
  }

  /** Free `blocks` now, or once a stuck call's workers are gone (they may still write). */
  function freeAfter(error: unknown, blocks: number[]): void {
    const free = () => {
      for (const ptr of blocks) heap.free(ptr);
    };
    if (error instanceof KernelStuckError) error.retired.then(free);
    else free();
  }

  /**
   * Run `body` as one kernel call: its rounds queue at `options.priority`; it rejects with
   * `options.signal`'s reason at once when aborted (the rounds stop at the next boundary);
   * scratch it allocates is freed when it ends.
   */
  function call<T>(
    options: CallOptions | undefined,
    body: (ctx: CallContext) => Promise<T>,
  ): Promise<T> {
    if (closed) return Promise.reject(new SaeError("unavailable", "the wasm backend is closed"));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const turn = { priority: options?.priority, signal };
    const blocks: number[] = [];
    const ctx: CallContext = {
      heap,
      threads,
      checkpointWork,
      round: (jobs, then) => pool.run(jobs, { ...turn, then }),
      alloc(bytes: number): number {
        const ptr = heap.alloc(bytes);
        blocks.push(ptr);
        return ptr;
      },
    };
    const work = (async () => {
      try {
        return await body(ctx);
      } catch (e) {
        freeAfter(e, blocks.splice(0));
        throw e;
      } finally {
        for (const ptr of blocks) heap.free(ptr);
      }
    })();
    return signal ? abortable(work, signal) : work;
  }

  /** Run `fn` on a prepared dictionary, keeping its memory alive until it ends. */
  async function using<T>(prepared: Prepared, fn: (p: WasmPrepared) => Promise<T>): Promise<T> {
    const p = prepared as WasmPrepared;
    if (p.use.released) throw new SaeError("unavailable", "the dictionary was released");
    p.use.calls++;
    try {
      return await fn(p);
    } finally {
      if (--p.use.calls === 0 && p.use.released) freePrepared(p);
    }
  }

  function freePrepared(p: WasmPrepared): void {
    for (const ptr of p.allocations.splice(0)) heap.free(ptr);
  }

  /** Convert an f32 block to the stored precision in place, releasing the spare half. */
  async function compact(ptr: number, count: number): Promise<void> {
    if (precision === "f32" || count === 0) return;
    const overflow = await call(undefined, (ctx) => compactInPlace(ctx, ptr, { count, precision }));
    if (overflow > 0) {
      throw new RangeError("a weight does not fit in f16; use SAESERVE_WEIGHTS=bf16 or f32");
    }
    heap.shrink(ptr, count * 2);
  }

  /** The encoder as panels of 8 columns, re-packed in place (adopted from the arena or copied). */
  async function prepareEncoder(wEnc: Matrix, allocations: number[]): Promise<Packed> {
    const K = wEnc.rows;
    const npad = pad8(wEnc.cols);
    let ptr = npad === wEnc.cols ? adopt(wEnc.data) : null;
    if (ptr === null) {
      ptr = heap.alloc(K * npad * 4);
      copyPadded(heap, wEnc, { ptr, ld: npad });
    }
    allocations.push(ptr);
    // Row-major [K, npad/8] blocks of 8 floats -> [npad/8, K] blocks: the panel layout.
    const at = ptr;
    await call(undefined, (ctx) => transposeBlocks(ctx, at, { rows: K, cols: npad / 8 }));
    await compact(ptr, K * npad);
    return { ptr, bytes: K * npad * esize, ldb: 8 * esize, panelStride: K * 8 * esize };
  }

  /** The decoder row-major with rows padded to 8 (adopted from the arena or copied). */
  async function prepareDecoder(wDec: Matrix, allocations: number[]): Promise<Packed> {
    const npad = pad8(wDec.cols);
    let ptr = npad === wDec.cols ? adopt(wDec.data) : null;
    if (ptr === null) {
      ptr = heap.alloc(wDec.rows * npad * 4);
      copyPadded(heap, wDec, { ptr, ld: npad });
    }
    allocations.push(ptr);
    await compact(ptr, wDec.rows * npad);
    return { ptr, bytes: wDec.rows * npad * esize, ldb: npad * esize, panelStride: 8 * esize };
  }

  /** Sparse codes times the decoder, each output row started by `init`. */
  function decoderSum(
    p: WasmPrepared,
    codes: SparseRows,
    options: CallOptions & {
      init: (r: number, out: Float32Array) => void;
      scale?: (r: number) => number;
    },
  ): Promise<Matrix> {
    checkIndices(codes, p.weights.dSae);
    return call(options, (ctx) =>
      decoderRows(ctx, codes, {
        decoder: p.decoder,
        dIn: p.weights.dIn,
        prec,
        init: options.init,
        scale: options.scale,
      }));
  }

  const backend: WasmBackend = {
    name: "wasm",
    threads,
    precision,
    pool,
    heap,
    health: () => pool.health(),
    arena(): MatrixArena {
      const mine = new Set<Float32Array>();
      return {
        alloc(length: number): Float32Array {
          const ptr = heap.alloc(length * 4);
          const data = heap.f32(ptr, length);
          data.fill(0);
          arenaBlocks.set(data, ptr);
          mine.add(data);
          return data;
        },
        dispose(): void {
          for (const data of mine) {
            const ptr = arenaBlocks.get(data);
            if (ptr !== undefined) {
              arenaBlocks.delete(data);
              heap.free(ptr);
            }
          }
          mine.clear();
        },
      };
    },
    async prepare(input: SaeWeights): Promise<Prepared> {
      const allocations: number[] = [];
      try {
        const inArena = arenaBlocks.has(input.wEnc.data) || arenaBlocks.has(input.wDec.data);
        const encoder = await prepareEncoder(input.wEnc, allocations);
        const decoder = await prepareDecoder(input.wDec, allocations);
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
        const prepared: WasmPrepared = {
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
        return prepared;
      } catch (e) {
        freeAfter(e, allocations);
        throw e;
      }
    },
    release(prepared: Prepared): void {
      const p = prepared as WasmPrepared;
      if (p.use.released) return;
      p.use.released = true;
      if (p.use.calls === 0) freePrepared(p);
    },
    encode(prepared: Prepared, s: Matrix, options?: EncodeOptions): Promise<SparseRows> {
      return using(prepared, (p) => {
        const w = p.weights;
        if (s.cols !== w.dIn) {
          throw new RangeError(`encode: rows of ${s.cols} values for d_in ${w.dIn}`);
        }
        const a = w.activation;
        const top = options?.top;
        const fused = (act: number, cap: number) =>
          call(options, (ctx) =>
            encodeFused(ctx, s, {
              encoder: p.encoder,
              dSae: w.dSae,
              prec,
              act,
              cap,
              bias: p.bias,
              thr: p.thr,
              bmag: p.bmag,
            }));
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
            // Per-group maxima need whole groups: dense pre-activations, then the activation.
            return call(options, async (ctx) => {
              const pre = await gemm(ctx, s, { b: p.encoder, n: w.dSae, prec });
              const indices: Int32Array[] = [];
              const values: Float32Array[] = [];
              for (let r = 0; r < s.rows; r++) {
                const chosen = sparsify(activate(a, row(pre, r)), top);
                indices.push(chosen.indices);
                values.push(chosen.values);
              }
              return { width: w.dSae, indices, values };
            });
        }
      });
    },
    decodeSparse(
      prepared: Prepared,
      codes: SparseRows,
      options?: { bias?: boolean } & CallOptions,
    ): Promise<Matrix> {
      return using(prepared, (p) => {
        const withBias = options?.bias !== false;
        return decoderSum(p, codes, {
          ...options,
          init: (_, out) => withBias && out.set(p.weights.bDec),
        });
      });
    },
    decodeDense(
      prepared: Prepared,
      codes: Matrix,
      options?: { bias?: boolean } & CallOptions,
    ): Promise<Matrix> {
      return using(prepared, async (p) => {
        const w = p.weights;
        if (codes.cols !== w.dSae) {
          throw new RangeError(`decode: codes of width ${codes.cols} for d_sae ${w.dSae}`);
        }
        let nonzero = 0;
        for (let i = 0; i < codes.data.length; i++) if (codes.data[i] !== 0) nonzero++;
        if (nonzero <= codes.data.length / 8) {
          // Mostly zeros (SAE codes): sum the decoder rows of the non-zeros.
          const indices: Int32Array[] = [];
          const values: Float32Array[] = [];
          for (let r = 0; r < codes.rows; r++) {
            const chosen = topK(row(codes, r), codes.cols, { keep: (v) => v !== 0 });
            indices.push(chosen.indices);
            values.push(chosen.values);
          }
          return await backend.decodeSparse(p, { width: w.dSae, indices, values }, options);
        }
        // Dense codes: a GEMM against the row-major decoder.
        const out = await call(
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
      });
    },
    steer(
      prepared: Prepared,
      x: Matrix,
      deltas: SparseRows,
      options?: { rowScale?: Float32Array } & CallOptions,
    ): Promise<Matrix> {
      return using(prepared, (p) => {
        if (x.cols !== p.weights.dIn || deltas.indices.length !== x.rows) {
          throw new RangeError(
            `steer: ${x.rows}x${x.cols} activations, ${deltas.indices.length} rows of deltas`,
          );
        }
        return decoderSum(p, deltas, {
          ...options,
          init: (r, out) => out.set(row(x, r)),
          scale: (r) => options?.rowScale?.[r] ?? 1,
        });
      });
    },
    matmul(
      a: Matrix,
      b: Matrix,
      options?: { transposeB?: boolean } & CallOptions,
    ): Promise<Matrix> {
      const t = options?.transposeB ?? false;
      const inner = t ? b.cols : b.rows;
      const n = t ? b.rows : b.cols;
      if (a.cols !== inner) {
        return Promise.reject(new RangeError(`matmul: ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`));
      }
      return call(options, async (ctx) => {
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
    },
    topK(m: Matrix, k: number, options?: CallOptions): Promise<SparseRows> {
      if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
      const indices: Int32Array[] = [];
      const values: Float32Array[] = [];
      for (let r = 0; r < m.rows; r++) {
        const chosen = topK(row(m, r), k);
        indices.push(chosen.indices);
        values.push(chosen.values);
      }
      return Promise.resolve({ width: m.cols, indices, values });
    },
    close(): void {
      closed = true;
      pool.close();
    },
  };
  return backend;
}

/** Bytes per stored weight element (for memory accounting). */
export function weightElementBytes(precision: WeightPrecision): number {
  return precisionBytes(precision);
}
