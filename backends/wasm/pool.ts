/**
 * Threads for the kernels: Deno workers sharing one WebAssembly.Memory. The thread that calls
 * {@link KernelPool.run} computes nothing: it queues for a turn (live before research), posts
 * one round of jobs through the control block (wasm/pool_protocol.ts) and waits for it with
 * Atomics.waitAsync, so its event loop stays free. When live work queues behind a research
 * round, or the round's call is aborted, the pool raises the stop word: kernels return at
 * their next checkpoint (a few ms) and the caller posts the rest on a later turn.
 *
 * A watchdog fails a round that makes no progress (no job finishing, no checkpoint passed) for
 * `watchdogMs`: the pool abandons its workers (their kernels stop at the next checkpoint, the
 * workers exit as soon as they can), starts fresh ones on the same memory, and the stuck call
 * fails with SaeError "unavailable". A worker that dies is handled the same way at once. Deno
 * cannot kill a thread that is running or blocked (Worker.terminate does not), so the old
 * workers leave on their own; memory a stuck call used should be freed only once
 * {@link KernelStuckError.retired} resolves.
 * @module
 */

import type { BackendHealth, CallOptions, WorkClass } from "../backend.ts";
import { SaeError } from "../../domain/errors.ts";
import { type Generation, retireGeneration, slotMessage, spawnGeneration } from "./generation.ts";
import type { SharedHeap } from "./heap.ts";
import { COMMON } from "./params.ts";
import {
  H_EXITED,
  H_REMAINING,
  H_STOP,
  H_STOPPED,
  H_THEN,
  H_THEN_RESULT,
  S_JOB,
  S_POSTED,
  S_RESULT,
  S_STATUS,
  slotWord,
} from "./pool_protocol.ts";
import { RoundQueue } from "./round_queue.ts";

/** Default bound on a round without progress before the pool is replaced. */
export const DEFAULT_WATCHDOG_MS = 30_000;
/** The least time workers get to start (module load, instantiation) before giving up. */
const START_TIMEOUT_MS = 30_000;

/** Options of {@link KernelPool.run}. */
export interface RoundOptions extends CallOptions {
  /**
   * A job (parameter block) the last worker to finish runs once every job has finished (not
   * when one stopped at a checkpoint): a follow-up that needs all of them, without a trip back
   * to the caller.
   */
  readonly then?: number;
}

/** Options of {@link KernelPool.start}. */
export interface KernelPoolOptions {
  /** Workers (jobs per round at most). */
  readonly threads: number;
  /** How long (ms) the last worker polls for the next round (see wasm/worker.ts). */
  readonly spinMs?: number;
  /** A round with no job finishing for this long replaces the workers (default 30 s). */
  readonly watchdogMs?: number;
  /** Told each time the workers are replaced, with the reason. */
  readonly onReplaced?: (reason: string) => void;
  /** Live rounds in a row a waiting research round lets pass (backends/turn_order.ts). */
  readonly liveTurns?: number;
}

/** A round that could not finish: its workers were abandoned and are being replaced. */
export class KernelStuckError extends SaeError {
  /** Resolves once every abandoned worker has left: only then is the call's memory free. */
  readonly retired: Promise<void>;

  /** Create the error for an abandoned round. */
  constructor(message: string, retired: Promise<void>) {
    super("unavailable", message);
    this.name = "KernelStuckError";
    this.retired = retired;
  }
}

function unavailable(message: string): SaeError {
  return new SaeError("unavailable", message);
}

/** Kernel workers, run one round at a time. */
export class KernelPool {
  /** Workers, hence jobs per round at most. */
  readonly threads: number;
  readonly #module: WebAssembly.Module;
  readonly #heap: SharedHeap;
  readonly #watchdogMs: number;
  readonly #spinMs?: number;
  readonly #onReplaced?: (reason: string) => void;
  readonly #queue: RoundQueue;
  #gen: Generation | null = null;
  /** The class of the round in flight (null when none). */
  #running: WorkClass | null = null;
  #restart: Promise<void> | null = null;
  #problem = "";
  #closed = false;
  #replacements = 0;

  private constructor(module: WebAssembly.Module, heap: SharedHeap, options: KernelPoolOptions) {
    this.#module = module;
    this.#heap = heap;
    this.threads = Math.max(1, Math.floor(options.threads));
    this.#watchdogMs = options.watchdogMs ?? DEFAULT_WATCHDOG_MS;
    this.#spinMs = options.spinMs;
    this.#onReplaced = options.onReplaced;
    this.#queue = new RoundQueue({ liveTurns: options.liveTurns });
  }

  /** Start `options.threads` workers over `heap`'s memory running `module`. */
  static async start(
    module: WebAssembly.Module,
    heap: SharedHeap,
    options: KernelPoolOptions,
  ): Promise<KernelPool> {
    const pool = new KernelPool(module, heap, options);
    pool.#gen = await pool.#spawn();
    return pool;
  }

  /** How many times the workers were replaced. */
  get replacements(): number {
    return this.#replacements;
  }

  /** The class of the round in flight, or null when the workers are idle. */
  get running(): WorkClass | null {
    return this.#running;
  }

  /** Rounds waiting for a turn, per class. */
  get waiting(): { live: number; research: number } {
    return this.#queue.waiting;
  }

  /** Whether the pool can compute now. */
  health(): BackendHealth {
    if (this.#closed) return { healthy: false, detail: "the kernel pool is closed" };
    if (this.#restart) {
      return { healthy: false, detail: `replacing kernel workers: ${this.#problem}` };
    }
    if (!this.#gen) return { healthy: false, detail: this.#problem };
    return { healthy: true };
  }

  /**
   * Run one round: `jobs[i]` (a parameter-block address, 0 for none) on worker i, and
   * `options.then` after them. Waits for a turn first (live before research, research after
   * `liveTurns` live rounds in a row, wasm/round_queue.ts). Resolves to each
   * job's `run_job` result (1: stopped at a checkpoint, post it again to continue) followed by
   * the `then` job's (-1: not run); rejects with the kernel's error if a job threw, with
   * `signal.reason` if aborted before the round starts, and with a {@link KernelStuckError}
   * if the watchdog gave up on the round.
   */
  async run(jobs: readonly number[], options: RoundOptions = {}): Promise<Int32Array> {
    if (jobs.length > this.threads) {
      throw new RangeError(`${jobs.length} jobs for ${this.threads} kernel workers`);
    }
    if (this.#closed) throw unavailable("the kernel pool is closed");
    const priority = options.priority ?? "live";
    if (priority === "live" && this.#running === "research" && this.#gen) {
      Atomics.store(this.#gen.words, H_STOP, 1);
    }
    await this.#queue.acquire(priority, options.signal);
    try {
      options.signal?.throwIfAborted();
      this.#running = priority;
      return await this.#round(await this.#ready(), jobs, options);
    } finally {
      this.#running = null;
      this.#queue.release();
    }
  }

  /** Stop the workers; calls waiting or running fail with SaeError "unavailable". */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.rejectAll(() => unavailable("the kernel pool is closed"));
    const gen = this.#gen;
    this.#gen = null;
    if (gen) this.#retire(gen, "the kernel pool was closed", { terminate: true });
  }

  /** The current workers, waiting for a replacement in progress or starting one. */
  async #ready(): Promise<Generation> {
    if (this.#restart) await this.#restart;
    if (!this.#gen && !this.#closed) {
      this.#beginRestart(this.#problem || "restart");
      await this.#restart;
    }
    if (this.#closed) throw unavailable("the kernel pool is closed");
    if (!this.#gen) throw unavailable(this.#problem);
    return this.#gen;
  }

  async #round(
    gen: Generation,
    jobs: readonly number[],
    options: RoundOptions,
  ): Promise<Int32Array> {
    const w = gen.words;
    const { signal } = options;
    const then = options.then ?? 0;
    const results = new Int32Array(jobs.length + 1);
    results[jobs.length] = -1;
    const blocks: Int32Array[] = [];
    for (const job of [...jobs, then]) {
      if (job > 0) blocks.push(this.#heap.i32(job, COMMON.STOP + 1));
    }
    const count = jobs.reduce((n, job) => n + (job !== 0 ? 1 : 0), 0);
    if (count === 0) return results;
    Atomics.store(w, H_STOP, 0);
    Atomics.store(w, H_STOPPED, 0);
    Atomics.store(w, H_THEN, then);
    Atomics.store(w, H_THEN_RESULT, -1);
    Atomics.store(w, H_REMAINING, count + (then !== 0 ? 1 : 0));
    for (const words of blocks) words[COMMON.STOP] = gen.ctrl + 4 * H_STOP;
    for (let i = 0; i < jobs.length; i++) {
      if (jobs[i] === 0) continue;
      const slot = slotWord(i);
      w[slot + S_JOB] = jobs[i];
      w[slot + S_STATUS] = 0;
      Atomics.add(w, slot + S_POSTED, 1);
    }
    // Every job is posted before any wake-up: waking a worker can put it on this thread's core
    // and hold this thread until that worker's job is done, and a polling worker then has its
    // job already (see wasm/worker.ts).
    for (let i = 0; i < jobs.length; i++) {
      if (jobs[i] !== 0) Atomics.notify(w, slotWord(i) + S_POSTED);
    }
    // Live work that queued while this research round was being posted: stop at once.
    if (this.#running === "research" && this.#queue.waiting.live > 0) {
      Atomics.store(w, H_STOP, 1);
    }
    const stop = () => Atomics.store(w, H_STOP, 1);
    signal?.addEventListener("abort", stop, { once: true });
    try {
      await this.#wait(gen, blocks);
    } finally {
      signal?.removeEventListener("abort", stop);
    }
    for (let i = 0; i < jobs.length; i++) {
      if (jobs[i] === 0) continue;
      const slot = slotWord(i);
      if (w[slot + S_STATUS] !== 0) {
        throw new Error(`a WASM kernel failed: ${slotMessage(this.#heap, gen, { index: i })}`);
      }
      results[i] = w[slot + S_RESULT];
    }
    results[jobs.length] = w[H_THEN_RESULT];
    return results;
  }

  /**
   * Wait for the round to finish. The watchdog gives up after `watchdogMs` in which no job
   * finished and no kernel passed a checkpoint (`blocks`: the jobs' parameter blocks).
   */
  async #wait(gen: Generation, blocks: readonly Int32Array[]): Promise<void> {
    const w = gen.words;
    const ms = this.#watchdogMs;
    // Grows with every checkpoint passed and every job finished.
    const progress = () => {
      let n = -Atomics.load(w, H_REMAINING);
      for (const words of blocks) n += Atomics.load(words, COMMON.PROGRESS);
      return n;
    };
    let last = progress();
    let expired = false;
    const arm = () =>
      setTimeout(() => {
        expired = true;
        Atomics.notify(w, H_REMAINING);
      }, ms);
    let timer = arm();
    try {
      while (true) {
        if (gen.abandoned) throw new KernelStuckError(gen.abandoned, gen.retired);
        const left = Atomics.load(w, H_REMAINING);
        if (left === 0) return;
        if (expired) {
          const now = progress();
          if (now === last) {
            this.#abandon(gen, `a kernel round made no progress for ${ms} ms`);
            continue;
          }
          last = now;
          expired = false;
          timer = arm();
        }
        const waiting = Atomics.waitAsync(w, H_REMAINING, left);
        if (waiting.async) await waiting.value;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Start a set of workers on a fresh control block. */
  #spawn(): Promise<Generation> {
    return spawnGeneration(this.#module, this.#heap, {
      threads: this.threads,
      spinMs: this.#spinMs,
      timeoutMs: Math.max(this.#watchdogMs, START_TIMEOUT_MS),
      onFailed: (gen, why) => this.#abandon(gen, why),
      onDied: (gen, why) => this.#died(gen, why),
    });
  }

  /** A worker of `gen` died without leaving its loop: count it and give the generation up. */
  #died(gen: Generation, why: string): void {
    gen.deaths++;
    Atomics.notify(gen.words, H_EXITED);
    this.#abandon(gen, why);
  }

  /** Give `gen` up (it is stuck or lost a worker) and start its replacement. */
  #abandon(gen: Generation, why: string): void {
    if (gen.abandoned) return;
    this.#retire(gen, why);
    if (this.#gen !== gen) return;
    this.#gen = null;
    this.#replacements++;
    this.#onReplaced?.(why);
    this.#beginRestart(why);
  }

  /** Retire `gen` (see {@link retireGeneration}). */
  #retire(gen: Generation, why: string, options: { terminate?: boolean } = {}): void {
    retireGeneration(this.#heap, gen, { why, terminate: options.terminate });
  }

  #beginRestart(why: string): void {
    if (this.#restart || this.#closed) return;
    this.#problem = why;
    this.#restart = (async () => {
      try {
        const gen = await this.#spawn();
        if (this.#closed) this.#retire(gen, "the kernel pool was closed", { terminate: true });
        else {
          this.#gen = gen;
          this.#problem = "";
        }
      } catch (e) {
        this.#problem = `kernel workers could not be restarted: ${(e as Error).message}`;
      } finally {
        this.#restart = null;
      }
    })();
  }
}
