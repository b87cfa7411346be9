/**
 * One generation of kernel workers: Deno workers started on a fresh control block of the shared
 * memory (wasm/pool_protocol.ts), and their retirement. Deno cannot kill a thread that is
 * running or blocked (Worker.terminate does not), so retired workers are told to stop and leave
 * on their own; the control block is freed only once they all have.
 * @module
 */

import type { SharedHeap } from "./heap.ts";
import {
  controlBytes,
  H_CANCEL,
  H_EXITED,
  H_REMAINING,
  H_STOP,
  MESSAGE_BYTES,
  S_MESSAGE_BYTE,
  S_MESSAGE_LENGTH,
  S_POSTED,
  slotWord,
} from "./pool_protocol.ts";

/** One set of workers and its control block. */
export interface Generation {
  readonly ctrl: number;
  readonly words: Int32Array;
  readonly workers: Worker[];
  /** Why it was abandoned (null while in service). */
  abandoned: string | null;
  /** Workers that died without reaching their exit code. */
  deaths: number;
  /** Resolves once all its workers have left (set when abandoned). */
  retired: Promise<void>;
}

/** Options of {@link spawnGeneration}. */
export interface SpawnOptions {
  /** Workers to start. */
  readonly threads: number;
  /** How long (ms) the last worker polls for the next round (default: as the others). */
  readonly spinMs?: number;
  /** Give up when they are not all ready after this long (ms). */
  readonly timeoutMs: number;
  /** A worker left its loop with an error after starting. */
  readonly onFailed: (gen: Generation, why: string) => void;
  /** A worker died without leaving its loop (it did not count itself as exited). */
  readonly onDied: (gen: Generation, why: string) => void;
}

const WORKER_URL = new URL("./worker.ts", import.meta.url).href;

/** Start `options.threads` workers running `module` over `heap`'s memory; resolves once all are ready. */
export async function spawnGeneration(
  module: WebAssembly.Module,
  heap: SharedHeap,
  options: SpawnOptions,
): Promise<Generation> {
  const bytes = controlBytes(options.threads);
  const ctrl = heap.alloc(bytes);
  const words = heap.i32(ctrl, bytes / 4);
  words.fill(0);
  const gen: Generation = {
    ctrl,
    words,
    workers: [],
    abandoned: null,
    deaths: 0,
    retired: Promise.resolve(),
  };
  const ready: Promise<void>[] = [];
  for (let index = 0; index < options.threads; index++) {
    const worker = new Worker(WORKER_URL, { type: "module" });
    ready.push(
      new Promise<void>((resolve, reject) => {
        worker.onmessage = (e: MessageEvent) => {
          if (e.data === "ready") return resolve();
          // It left its loop (it counted itself in EXITED): give the generation up.
          const why = `a kernel worker failed: ${e.data?.error}`;
          reject(new Error(why));
          options.onFailed(gen, why);
        };
        worker.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          const why = `a kernel worker died: ${e.message}`;
          reject(new Error(why));
          options.onDied(gen, why);
        };
      }),
    );
    const last = index === options.threads - 1 && options.threads > 1;
    const spinMs = last ? options.spinMs : undefined;
    worker.postMessage({ module, memory: heap.memory, ctrl, index, spinMs });
    gen.workers.push(worker);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = options.timeoutMs;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`kernel workers did not start in ${limit} ms`)),
      limit,
    );
  });
  try {
    await Promise.race([Promise.all(ready), late]);
  } catch (e) {
    retireGeneration(heap, gen, { why: (e as Error).message });
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return gen;
}

/**
 * Tell `gen`'s workers to stop and leave; free its control block once they all have (then
 * `gen.retired` resolves). With `terminate` (closing), terminate them at once and free nothing.
 * Does nothing when `gen` was already retired.
 */
export function retireGeneration(
  heap: SharedHeap,
  gen: Generation,
  options: { why: string; terminate?: boolean },
): void {
  if (gen.abandoned) return;
  gen.abandoned = options.why;
  const w = gen.words;
  Atomics.store(w, H_STOP, 1);
  Atomics.store(w, H_CANCEL, 1);
  for (let i = 0; i < gen.workers.length; i++) {
    Atomics.add(w, slotWord(i) + S_POSTED, 1);
    Atomics.notify(w, slotWord(i) + S_POSTED);
  }
  Atomics.notify(w, H_REMAINING);
  if (options.terminate) {
    for (const worker of gen.workers) worker.terminate();
    return;
  }
  gen.retired = (async () => {
    let left: number;
    while ((left = Atomics.load(w, H_EXITED)) + gen.deaths < gen.workers.length) {
      const waiting = Atomics.waitAsync(w, H_EXITED, left);
      if (waiting.async) await waiting.value;
    }
    for (const worker of gen.workers) worker.terminate();
    heap.free(gen.ctrl);
  })();
}

/** The error text worker `index` of `gen` reported in its slot. */
export function slotMessage(heap: SharedHeap, gen: Generation, options: { index: number }): string {
  const slot = slotWord(options.index);
  const n = Math.min(MESSAGE_BYTES, gen.words[slot + S_MESSAGE_LENGTH]);
  const view = new Uint8Array(heap.memory.buffer, gen.ctrl + 4 * slot + S_MESSAGE_BYTE, n);
  return String.fromCharCode(...view);
}
