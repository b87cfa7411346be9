/**
 * Kernel calls of the WASM backend: each runs its body with a {@link CallContext} whose rounds
 * queue at the pool under the call's priority and signal, whose scratch is freed when the call
 * ends (or, after a stuck round, once the abandoned workers are gone), and which rejects with
 * the signal's reason as soon as it aborts.
 * @module
 */

import type { CallOptions } from "../backend.ts";
import { SaeError } from "../../domain/errors.ts";
import { ALIGN, type SharedHeap } from "./heap.ts";
import type { CallContext } from "./ops.ts";
import { type KernelPool, KernelStuckError } from "./pool.ts";

/** Reject with `signal.reason` as soon as it aborts, else settle like `work`. */
export function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * A call's small scratch (parameter blocks, lists, a row) is cut from chunks of this many bytes,
 * one heap block each: a 1-row encode allocates about 25 pieces, and a heap block apiece cost
 * more than its kernel round's bookkeeping. Pieces larger than a quarter chunk get their own.
 */
export const CHUNK_BYTES = 64 << 10;

/** Options of {@link KernelCalls}. */
export interface KernelCallsOptions {
  /** The kernels' memory. */
  readonly heap: SharedHeap;
  /** Work (multiply-adds) per worker between two checkpoints. */
  readonly checkpointWork: number;
}

/** Runs kernel calls on one pool until closed. */
export class KernelCalls {
  /** The kernels' memory. */
  readonly heap: SharedHeap;
  readonly #pool: KernelPool;
  readonly #checkpointWork: number;
  #closed = false;

  /** Calls on `pool`'s workers over `options.heap`. */
  constructor(pool: KernelPool, options: KernelCallsOptions) {
    this.#pool = pool;
    this.heap = options.heap;
    this.#checkpointWork = options.checkpointWork;
  }

  /**
   * Run `body` as one kernel call: its rounds queue at `options.priority`; it rejects with
   * `options.signal`'s reason at once when aborted (the rounds stop at the next boundary);
   * scratch it allocates is freed when it ends. Rejects with SaeError "unavailable" once closed.
   */
  call<T>(options: CallOptions | undefined, body: (ctx: CallContext) => Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new SaeError("unavailable", "the wasm backend is closed"));
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const turn = { priority: options?.priority, signal };
    const blocks: number[] = [];
    const heap = this.heap;
    const pool = this.#pool;
    let at = 0; // the free part of the current chunk: [at, end)
    let end = 0;
    const ctx: CallContext = {
      heap,
      threads: pool.threads,
      checkpointWork: this.#checkpointWork,
      round: (jobs, then) => pool.run(jobs, { ...turn, then }),
      alloc(bytes: number): number {
        const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
        if (size > CHUNK_BYTES / 4) {
          const ptr = heap.alloc(bytes);
          blocks.push(ptr);
          return ptr;
        }
        if (at + size > end) {
          at = heap.alloc(CHUNK_BYTES);
          blocks.push(at);
          end = at + CHUNK_BYTES;
        }
        const ptr = at;
        at += size;
        return ptr;
      },
    };
    const work = (async () => {
      try {
        return await body(ctx);
      } catch (e) {
        this.freeAfter(e, blocks.splice(0));
        throw e;
      } finally {
        for (const ptr of blocks) heap.free(ptr);
      }
    })();
    return signal ? abortable(work, signal) : work;
  }

  /** Free `blocks` now, or, when `error` is a stuck round, once its workers are gone (they may still write). */
  freeAfter(error: unknown, blocks: readonly number[]): void {
    const free = () => {
      for (const ptr of blocks) this.heap.free(ptr);
    };
    if (error instanceof KernelStuckError) error.retired.then(free);
    else free();
  }

  /** Refuse further calls (the pool is closed separately). */
  close(): void {
    this.#closed = true;
  }
}
