/**
 * Runs tasks (`tasks.ts`) on worker threads, in two classes with their own workers and queues:
 * `live` (pieces of encode / steer answers) and `research` (probes, circuits, aligned work,
 * heatmaps), so research never delays live work and neither runs on the request thread. A
 * job whose signal aborts (deadline, client gone, shutdown) is dropped from its queue or, when
 * running, told through a flag in shared memory that its loops poll. A job that does not stop
 * within 5 s loses its worker slot to a fresh worker; Deno 2.9.6's Worker.terminate()
 * does not interrupt a thread running JavaScript (measured: the thread kept its CPU), so that
 * thread finishes its task, bounded by the cost budgets, in the background. Either way its
 * caller is answered at once.
 * @module
 */

import type { WorkClass } from "../../backends/backend.ts";
import { SaeError } from "../../domain/errors.ts";
import type { JobReply, JobRequest } from "./protocol.ts";
import type { TaskArgs, TaskName, TaskResult } from "./tasks.ts";

/** Options of {@link JobRunner}. */
export interface JobRunnerOptions {
  /** Workers per class (default: live 1, research 1). */
  readonly workers?: Partial<Record<WorkClass, number>>;
  /** Jobs allowed to wait per class before callers get 429 (default 64). */
  readonly maxQueued?: number;
  /** How long an abandoned job may run on before its worker slot is given to a new worker. */
  readonly cancelGraceMs?: number;
}

/** Options of one {@link JobRunner.run} call. */
export interface RunOptions {
  /** Queue class (default "research"). */
  readonly priority?: WorkClass;
  /** Abort: the job leaves its queue, or its worker is terminated. */
  readonly signal?: AbortSignal;
  /** Buffers moved to the worker instead of copied. */
  readonly transfer?: Transferable[];
}

/** Counts for /metrics. */
export interface JobStats {
  readonly queued: number;
  readonly running: number;
  readonly workers: number;
  /** Abandoned jobs whose worker has not yet stopped (it polls its flag). */
  readonly abandoned: number;
  /** Workers terminated because an abandoned job did not stop in time, or they failed. */
  readonly replaced: number;
  readonly completed: number;
}

interface Job {
  readonly id: number;
  readonly task: TaskName;
  readonly args: unknown;
  readonly transfer: Transferable[];
  readonly signal?: AbortSignal;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  onAbort?: () => void;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  job: Job | null;
  /** Set to 1 to tell the worker its job is abandoned (polled by the task's loops). */
  readonly cancel: Int32Array;
  /** Whether the current job was handed to the worker (it waits for the worker's start first). */
  posted: boolean;
  /** Pending termination of a worker whose abandoned job has not stopped yet. */
  stopping?: ReturnType<typeof setTimeout>;
}

/** Default of {@link JobRunnerOptions.cancelGraceMs}. */
const CANCEL_GRACE_MS = 5000;

/** One class: its workers and its queue. */
class Lane {
  readonly #queue: Job[] = [];
  readonly #slots: Slot[] = [];
  readonly #size: number;
  readonly #maxQueued: number;
  readonly #graceMs: number;
  #replaced = 0;
  #completed = 0;
  #closed = false;

  constructor(size: number, options: { maxQueued: number; graceMs: number }) {
    this.#size = Math.max(1, Math.floor(size));
    this.#maxQueued = options.maxQueued;
    this.#graceMs = options.graceMs;
  }

  submit(job: Job): void {
    if (this.#closed) {
      job.reject(new SaeError("unavailable", "the service is shutting down"));
      return;
    }
    if (job.signal?.aborted) {
      job.reject(job.signal.reason);
      return;
    }
    if (this.#queue.length >= this.#maxQueued) {
      job.reject(
        new SaeError("over_capacity", `${this.#queue.length} jobs are already waiting`, {
          info: { retry_after: 1 },
        }),
      );
      return;
    }
    job.onAbort = () => this.#abort(job);
    job.signal?.addEventListener("abort", job.onAbort, { once: true });
    this.#queue.push(job);
    this.#pump();
  }

  stats(): JobStats {
    return {
      queued: this.#queue.length,
      running: this.#slots.filter((s) => s.job && s.posted && s.stopping === undefined).length,
      abandoned: this.#slots.filter((s) => s.stopping !== undefined).length,
      workers: this.#slots.length,
      replaced: this.#replaced,
      completed: this.#completed,
    };
  }

  close(): void {
    this.#closed = true;
    const error = new SaeError("unavailable", "the service is shutting down");
    for (const job of this.#queue.splice(0)) this.#settle(job, () => job.reject(error));
    for (const slot of this.#slots.splice(0)) {
      // terminate() does not stop a busy thread: the flag makes a running task stop too.
      Atomics.store(slot.cancel, 0, 1);
      clearTimeout(slot.stopping);
      slot.worker.terminate();
      const job = slot.job;
      if (job && slot.stopping === undefined) this.#settle(job, () => job.reject(error));
    }
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((s) => !s.job);
      if (!slot) {
        if (this.#slots.length >= this.#size) return;
        slot = this.#spawn();
      }
      const job = this.#queue.shift()!;
      this.#start(slot, job);
    }
  }

  #spawn(): Slot {
    const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
    let markReady!: () => void;
    const slot: Slot = {
      worker,
      job: null,
      posted: false,
      ready: new Promise((r) => (markReady = r)),
      cancel: new Int32Array(new SharedArrayBuffer(4)),
    };
    worker.onmessage = (e: MessageEvent<JobReply>) => {
      const reply = e.data;
      if (reply.id === 0) return markReady();
      const job = slot.job;
      if (!job || job.id !== reply.id) return;
      slot.job = null;
      if (slot.stopping !== undefined) {
        // An abandoned job stopped by itself: the worker is kept; its caller was answered.
        clearTimeout(slot.stopping);
        slot.stopping = undefined;
      } else {
        this.#completed++;
        this.#settle(job, () => reply.ok ? job.resolve(reply.result) : job.reject(rebuild(reply)));
      }
      this.#pump();
    };
    worker.onerror = (e) => {
      e.preventDefault();
      const job = slot.job;
      this.#replace(slot);
      if (job) {
        this.#settle(
          job,
          () => job.reject(new SaeError("unavailable", `a job worker failed: ${e.message}`)),
        );
      }
    };
    this.#slots.push(slot);
    return slot;
  }

  #start(slot: Slot, job: Job): void {
    slot.job = job;
    slot.posted = false;
    Atomics.store(slot.cancel, 0, 0);
    slot.ready.then(() => {
      if (slot.job !== job || slot.stopping !== undefined) return; // abandoned while starting
      const message: JobRequest = {
        id: job.id,
        task: job.task,
        args: job.args,
        cancel: slot.cancel,
      };
      try {
        slot.worker.postMessage(message, job.transfer);
        slot.posted = true;
      } catch (e) {
        slot.job = null;
        this.#settle(job, () => job.reject(new SaeError("invalid", (e as Error).message)));
        this.#pump();
      }
    });
  }

  /** Terminate a worker (its job abandoned or failed) and forget it; a new one starts on demand. */
  #replace(slot: Slot): void {
    slot.worker.terminate();
    clearTimeout(slot.stopping);
    slot.job = null;
    const at = this.#slots.indexOf(slot);
    if (at >= 0) this.#slots.splice(at, 1);
    this.#replaced++;
    this.#pump();
  }

  /**
   * The caller is answered at once. A running job is told through its shared flag and gets
   * the grace period to stop at its next check (the worker is then reused); past that its
   * worker is terminated and replaced.
   */
  #abort(job: Job): void {
    const queued = this.#queue.indexOf(job);
    if (queued >= 0) this.#queue.splice(queued, 1);
    const slot = this.#slots.find((s) => s.job === job);
    if (slot && !slot.posted) {
      // Abandoned while its worker was starting: never sent, the slot is free at once.
      slot.job = null;
      this.#settle(job, () => job.reject(job.signal!.reason));
      this.#pump();
      return;
    }
    if (slot && slot.stopping === undefined) {
      Atomics.store(slot.cancel, 0, 1);
      slot.stopping = setTimeout(() => this.#replace(slot), this.#graceMs);
    }
    if (queued >= 0 || slot) this.#settle(job, () => job.reject(job.signal!.reason));
  }

  #settle(job: Job, settle: () => void): void {
    if (job.onAbort) job.signal?.removeEventListener("abort", job.onAbort);
    settle();
  }
}

/** Turn a worker's error description back into the error the routes map to a status. */
function rebuild(reply: Extract<JobReply, { ok: false }>): Error {
  const e = reply.error;
  if (e.name === "SaeError" && e.kind) return new SaeError(e.kind, e.message, { info: e.info });
  if (e.name === "RangeError") return new SaeError("invalid", e.message);
  return new SaeError("unavailable", `the job failed: ${e.message}`);
}

/** Worker pools for the two classes of work. Close it at shutdown. */
export class JobRunner {
  readonly #lanes: Record<WorkClass, Lane>;
  #nextId = 1;

  /** Workers start on first use; `options.workers` sets each class's concurrency. */
  constructor(options: JobRunnerOptions = {}) {
    const lane = {
      maxQueued: options.maxQueued ?? 64,
      graceMs: options.cancelGraceMs ?? CANCEL_GRACE_MS,
    };
    this.#lanes = {
      live: new Lane(options.workers?.live ?? 1, lane),
      research: new Lane(options.workers?.research ?? 1, lane),
    };
  }

  /** Run `task` on a worker of its class; rejects with the signal's reason when aborted. */
  run<N extends TaskName>(
    task: N,
    args: TaskArgs<N>,
    options: RunOptions = {},
  ): Promise<TaskResult<N>> {
    return new Promise((resolve, reject) => {
      this.#lanes[options.priority ?? "research"].submit({
        id: this.#nextId++,
        task,
        args,
        transfer: options.transfer ?? [],
        signal: options.signal,
        resolve: resolve as (v: unknown) => void,
        reject,
      });
    });
  }

  /** Queue and worker counts of a class. */
  stats(priority: WorkClass): JobStats {
    return this.#lanes[priority].stats();
  }

  /** Terminate every worker; queued and running jobs fail with 503. */
  close(): void {
    this.#lanes.live.close();
    this.#lanes.research.close();
  }
}
