/**
 * The `wasm` compute backend: AssemblyScript SIMD kernels (wasm/assembly/kernels.ts, built by
 * `deno task wasm`) on one shared WebAssembly.Memory, run by a pool of worker threads that
 * split the latent dimension (wasm/pool.ts). The calling thread runs no kernel: each call is
 * cut into bounded rounds that queue at the pool, live before research, and the caller awaits
 * them, so its event loop stays free (wasm/calls.ts, wasm/compute.ts). Weights are re-packed
 * once at `prepare` (by the workers) into the layouts the kernels stream, in f32, bf16 or f16,
 * or int8: an int8 copy of the encoder selects candidates that are rescored exactly in f32
 * (wasm/weights.ts, wasm/int8.ts).
 * @module
 */

import type {
  Backend,
  BackendHealth,
  CallOptions,
  DeviceInfo,
  EncodeOptions,
  MatrixArena,
  Prepared,
} from "../backend.ts";
import type { SaeWeights } from "../../domain/sae/dictionary.ts";
import type { Matrix, SparseRows } from "../../domain/sae/matrix.ts";
import type { Precision } from "../../domain/precision.ts";
import type { BatchResult, ObjectiveOptions, SaeParams } from "../../domain/train/params.ts";
import { topKRows } from "../top_k_rows.ts";
import { KernelCalls } from "./calls.ts";
import { WasmCompute } from "./compute.ts";
import { SharedHeap } from "./heap.ts";
import { compileKernels } from "./kernels_module.ts";
import { precisionBytes } from "./pack.ts";
import { PREC } from "./params.ts";
import { KernelPool } from "./pool.ts";
import { WeightStore } from "./weights.ts";
import { sparseObjective } from "./train_objective.ts";

export { DEFAULT_WATCHDOG_MS, KernelStuckError } from "./pool.ts";

/** Default work between checkpoints: 2^24 multiply-adds, a few milliseconds. */
export const DEFAULT_CHECKPOINT_WORK = 1 << 24;

/** Options of {@link wasmBackend}. */
export interface WasmBackendOptions {
  /** Worker threads, all taking part in each kernel call (default: the machine's cores). */
  threads?: number;
  /**
   * How long (ms) the last worker keeps polling for the next round before it sleeps (default
   * {@link SPIN_MS}, as the others); with one worker, always the default.
   */
  spinMs?: number;
  /** Stored weight precision (default f32). */
  weights?: Precision;
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
  /**
   * Live rounds in a row a waiting research round lets pass (default 4; 0: research waits until
   * no live round does). See backends/turn_order.ts.
   */
  liveTurns?: number;
}

/** A backend that also owns threads: close it when done. */
export interface WasmBackend extends Backend {
  /** Worker threads per kernel call. */
  readonly threads: number;
  /** Stored weight precision. */
  readonly precision: Precision;
  /** The kernel workers (queue depth, replacements; tests inject jobs through it). */
  readonly pool: KernelPool;
  /** The kernels' memory. */
  readonly heap: SharedHeap;
  /** Unhealthy while the workers are being replaced or could not be. */
  health(): BackendHealth;
  /** Stop the workers; later calls fail with SaeError "unavailable". */
  close(): void;
  /** The TopK / BatchTopK training objective on the kernels (wasm/train_objective.ts). */
  sparseObjective(
    params: SaeParams,
    x: Matrix,
    options: ObjectiveOptions & CallOptions,
  ): Promise<BatchResult>;
}

/** Threads to use when not told: the machine's logical cores. */
export function defaultThreads(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/**
 * Bytes per stored weight element (for memory accounting); int8 keeps the f32 encoder and
 * decoder plus an int8 copy of the encoder: 4.5 bytes on average over the two matrices.
 */
export function weightElementBytes(precision: Precision): number {
  return precision === "int8" ? 4.5 : precisionBytes(precision);
}

/** Start the WASM backend (compiles the kernels, starts `threads` workers). */
export async function wasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const module = await compileKernels();
  const threads = Math.max(1, Math.floor(options.threads ?? defaultThreads()));
  const precision = options.weights ?? "f32";
  if (!(precision in PREC)) throw new RangeError(`unknown weight precision ${precision}`);
  const checkpointWork = Math.max(1024, options.checkpointWork ?? DEFAULT_CHECKPOINT_WORK);
  if (options.spinMs !== undefined && !(options.spinMs >= 0 && options.spinMs <= 1000)) {
    throw new RangeError(`spinMs must be from 0 to 1000 ms, not ${options.spinMs}`);
  }
  const memory = new WebAssembly.Memory({ initial: 32, maximum: 65536, shared: true });
  // The kernels keep no statics in memory (no data segments, no globals), so the first MiB
  // is simply left unused.
  const heap = new SharedHeap(memory, 1 << 20);
  const pool = await KernelPool.start(module, heap, {
    threads,
    spinMs: options.spinMs,
    watchdogMs: options.watchdogMs,
    onReplaced: options.onReplaced,
    liveTurns: options.liveTurns,
  });
  const calls = new KernelCalls(pool, { heap, checkpointWork });
  const store = new WeightStore(calls, { precision });
  const compute = new WasmCompute(calls, { precision });

  return {
    name: "wasm",
    threads,
    precision,
    pool,
    heap,
    health: () => pool.health(),
    device: (): DeviceInfo => ({
      adapter: `CPU (WASM SIMD, ${threads} thread${threads === 1 ? "" : "s"})`,
      software: false,
    }),
    arena: (): MatrixArena => store.arena(),
    prepare: (weights: SaeWeights): Promise<Prepared> => store.prepare(weights),
    release: (prepared: Prepared): void => store.release(prepared),
    encode(prepared: Prepared, s: Matrix, options?: EncodeOptions): Promise<SparseRows> {
      return store.using(prepared, (p) => compute.encode(p, s, options));
    },
    decodeSparse(
      prepared: Prepared,
      codes: SparseRows,
      options?: { bias?: boolean } & CallOptions,
    ): Promise<Matrix> {
      return store.using(prepared, (p) => compute.decodeSparse(p, codes, options));
    },
    decodeDense(
      prepared: Prepared,
      codes: Matrix,
      options?: { bias?: boolean } & CallOptions,
    ): Promise<Matrix> {
      return store.using(prepared, (p) => compute.decodeDense(p, codes, options));
    },
    steer(
      prepared: Prepared,
      x: Matrix,
      deltas: SparseRows,
      options?: { rowScale?: Float32Array } & CallOptions,
    ): Promise<Matrix> {
      return store.using(prepared, (p) => compute.steer(p, x, { ...options, deltas }));
    },
    matmul(
      a: Matrix,
      b: Matrix,
      options?: { transposeB?: boolean } & CallOptions,
    ): Promise<Matrix> {
      return compute.matmul(a, b, options);
    },
    topK(m: Matrix, k: number, options?: CallOptions): Promise<SparseRows> {
      if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
      return Promise.resolve(topKRows(m, k));
    },
    sparseObjective(
      params: SaeParams,
      x: Matrix,
      options: ObjectiveOptions & CallOptions,
    ): Promise<BatchResult> {
      return sparseObjective(calls, params, { ...options, x, objective: options });
    },
    close(): void {
      calls.close();
      pool.close();
    },
  };
}
