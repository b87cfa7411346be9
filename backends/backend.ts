/**
 * The compute-backend interface. `reference` (plain TypeScript, the oracle), `wasm` and
 * `webgpu` implement it; the pipeline in `sae.ts` calls only this.
 * @module
 */

import type { SaeWeights } from "../domain/sae/dictionary.ts";
import type { Matrix, SparseRows } from "../domain/sae/matrix.ts";
import type { BatchResult, ObjectiveOptions, SaeParams } from "../domain/train/params.ts";

/** Backend names, as used by $SAESERVE_BACKEND and the X-Saeserve-Backend header. */
export type BackendName = "reference" | "wasm" | "webgpu";

/** Every backend name. */
export const BACKEND_NAMES: readonly BackendName[] = ["webgpu", "wasm", "reference"];

/** A backend by name, or "auto": WebGPU on a hardware adapter, else WASM ($SAESERVE_BACKEND). */
export type BackendChoice = "auto" | BackendName;

/** Every accepted backend choice, in the order help texts list them. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "webgpu", "wasm", "reference"];

/** A dictionary after a backend prepared it (re-packed, uploaded). Opaque to callers. */
export interface Prepared {
  /** The weights this was prepared from. */
  readonly weights: SaeWeights;
  /** Extra bytes the backend holds for it beyond `weights` (re-packed or device copies). */
  readonly extraBytes: number;
}

/** Which queue a kernel call waits in: live traffic always runs before research work. */
export type WorkClass = "live" | "research";

/** Options every compute call takes. */
export interface CallOptions {
  /** Queue class (default "live"). */
  readonly priority?: WorkClass;
  /** Abandon the call when aborted (deadline passed, client gone): rejects with the reason. */
  readonly signal?: AbortSignal;
}

/** Whether a backend can compute now, for /healthz. */
export interface BackendHealth {
  readonly healthy: boolean;
  /** Why not, when not healthy. */
  readonly detail?: string;
}

/** Options for {@link Backend.encode}. */
export interface EncodeOptions extends CallOptions {
  /** Keep at most this many largest non-zero latents per row (default: all non-zero). */
  readonly top?: number;
}

/**
 * Memory a loader streams large matrices into, owned by the backend, so that `prepare` can
 * adopt them in place instead of copying (a dictionary is never held twice while loading).
 */
export interface MatrixArena {
  /** A zeroed Float32Array of `length` values. */
  alloc(length: number): Float32Array;
  /** Free every allocation `prepare` did not adopt (call once loading and preparing end). */
  dispose(): void;
}

/** What a backend computes on, as reported by /readyz and the start-up log. */
export interface DeviceInfo {
  /** e.g. "CPU (WASM SIMD, 2 threads)" or the WebGPU adapter's description. */
  readonly adapter: string;
  /** True for a software WebGPU adapter (llvmpipe): CPU speed, not GPU speed. */
  readonly software: boolean;
}

/** One compute path. Every method is pure with respect to its inputs. */
export interface Backend {
  readonly name: BackendName;
  /** What it computes on (absent: not reported). */
  device?(): DeviceInfo;
  /** Prepare weights once at load (re-pack, upload). */
  prepare(weights: SaeWeights): Promise<Prepared>;
  /** A new arena for loading one dictionary; absent where plain JS arrays serve. */
  arena?(): MatrixArena;
  /**
   * Stop threads and devices the backend holds (absent when it holds none); where it returns a
   * promise, that settles once they have stopped (await it before the process exits).
   */
  close?(): void | Promise<void>;
  /** Whether it can compute now (absent: always). A stuck kernel pool reports false. */
  health?(): BackendHealth;
  /** Free what `prepare` allocated. */
  release(prepared: Prepared): void;
  /**
   * Encode already-normalized, pre-bias-subtracted rows `s` [rows, d_in]: p = s @ W_enc, then
   * the dictionary's activation. Returns the non-zero codes of each row, sorted by value
   * descending (ties: lower index first), at most `top` of them.
   */
  encode(prepared: Prepared, s: Matrix, options?: EncodeOptions): Promise<SparseRows>;
  /** y = codes @ W_dec (+ b_dec unless `bias: false`), sparse codes. */
  decodeSparse(
    prepared: Prepared,
    codes: SparseRows,
    options?: { bias?: boolean } & CallOptions,
  ): Promise<Matrix>;
  /** y = codes @ W_dec (+ b_dec unless `bias: false`), dense codes [rows, d_sae]. */
  decodeDense(
    prepared: Prepared,
    codes: Matrix,
    options?: { bias?: boolean } & CallOptions,
  ): Promise<Matrix>;
  /**
   * Steer: out[r] = x[r] + rowScale[r] * sum_j deltas.values[r][j] * W_dec[deltas.indices[r][j]].
   * `rowScale` defaults to 1 (it carries the linear part of the output normalization).
   */
  steer(
    prepared: Prepared,
    x: Matrix,
    deltas: SparseRows,
    options?: { rowScale?: Float32Array } & CallOptions,
  ): Promise<Matrix>;
  /** Batched matmul: a [m, k] @ b [k, n], or a @ b^T when `transposeB` (b is [n, k]). */
  matmul(a: Matrix, b: Matrix, options?: { transposeB?: boolean } & CallOptions): Promise<Matrix>;
  /** Per-row top-k of a dense matrix by value (ties: lower index first), zeros included. */
  topK(m: Matrix, k: number, options?: CallOptions): Promise<SparseRows>;
  /**
   * The TopK / BatchTopK training objective's loss and gradients for one batch `x` (already
   * scaled), computed by the backend's own kernels (other architectures reject with a
   * RangeError). Absent: domain/train/objective.ts computes it in TypeScript (the reference).
   */
  sparseObjective?(
    params: SaeParams,
    x: Matrix,
    options: ObjectiveOptions & CallOptions,
  ): Promise<BatchResult>;
}
