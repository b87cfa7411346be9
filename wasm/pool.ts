/**
 * Threads for the kernels: Deno workers sharing one WebAssembly.Memory. A round of jobs is
 * posted through a control block in that memory; the calling thread runs the first job
 * itself, then waits for the others (Atomics), so a round costs microseconds, not messages.
 * @module
 */

import type { SharedHeap } from "./heap.ts";
import { CTRL_JOBS, CTRL_PENDING, CTRL_SEQ, JOB_EXIT } from "./pool_protocol.ts";

/** Workers plus the calling thread, running one kernel over parameter blocks. */
export class KernelPool {
  /** Threads taking part in a round (the caller included). */
  readonly threads: number;
  readonly #workers: Worker[];
  readonly #words: Int32Array;
  readonly #encode: (pb: number) => void;
  readonly #heap: SharedHeap;
  readonly #ctrl: number;

  private constructor(
    heap: SharedHeap,
    ctrl: number,
    workers: Worker[],
    encode: (pb: number) => void,
  ) {
    this.#heap = heap;
    this.#ctrl = ctrl;
    this.#workers = workers;
    this.#encode = encode;
    this.threads = workers.length + 1;
    this.#words = heap.i32(ctrl, CTRL_JOBS + workers.length);
  }

  /** Start `threads - 1` workers over `heap`'s memory running `module`. */
  static async start(
    module: WebAssembly.Module,
    heap: SharedHeap,
    options: { threads: number; encode: (pb: number) => void },
  ): Promise<KernelPool> {
    const count = Math.max(0, options.threads - 1);
    const ctrl = heap.alloc(4 * (CTRL_JOBS + count));
    heap.i32(ctrl, CTRL_JOBS + count).fill(0);
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (let index = 0; index < count; index++) {
      const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
      ready.push(
        new Promise((resolve, reject) => {
          worker.onmessage = () => resolve();
          worker.onerror = (e) => {
            e.preventDefault();
            reject(new Error(`kernel worker failed: ${e.message}`));
          };
        }),
      );
      worker.postMessage({ module, memory: heap.memory, ctrl, index });
      workers.push(worker);
    }
    await Promise.all(ready);
    return new KernelPool(heap, ctrl, workers, options.encode);
  }

  /**
   * Run one round: `jobs[0]` on the calling thread, `jobs[i]` on worker i - 1 (0 = idle).
   * Blocks until every job is done.
   */
  run(jobs: number[]): void {
    const w = this.#words;
    const workers = this.#workers.length;
    if (jobs.length > this.threads) {
      throw new RangeError(`${jobs.length} jobs for ${this.threads} threads`);
    }
    let posted = 0;
    for (let i = 0; i < workers; i++) {
      const job = jobs[i + 1] ?? 0;
      w[CTRL_JOBS + i] = job;
      if (job !== 0) posted++;
    }
    if (posted > 0) {
      Atomics.store(w, CTRL_PENDING, workers);
      Atomics.add(w, CTRL_SEQ, 1);
      Atomics.notify(w, CTRL_SEQ);
    }
    try {
      if (jobs[0]) this.#encode(jobs[0]);
    } finally {
      if (posted > 0) {
        let pending: number;
        while ((pending = Atomics.load(w, CTRL_PENDING)) !== 0) {
          Atomics.wait(w, CTRL_PENDING, pending);
        }
      }
    }
  }

  /** Stop the workers (they exit at once; nothing else may run on the pool afterwards). */
  close(): void {
    const w = this.#words;
    for (let i = 0; i < this.#workers.length; i++) w[CTRL_JOBS + i] = JOB_EXIT;
    Atomics.add(w, CTRL_SEQ, 1);
    Atomics.notify(w, CTRL_SEQ);
    for (const worker of this.#workers) worker.terminate();
    this.#heap.free(this.#ctrl);
  }
}
