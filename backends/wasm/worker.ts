/**
 * A kernel worker: instantiates the kernels on the shared memory, then runs the jobs the pool
 * posts to its slot of the control block (wasm/pool_protocol.ts). A job that throws (a trap)
 * is reported in the slot; the worker keeps serving. It leaves when the pool sets the header's
 * CANCEL word.
 * @module
 */

/// <reference lib="deno.worker" />

import {
  H_CANCEL,
  H_EXITED,
  H_REMAINING,
  H_STOPPED,
  H_THEN,
  H_THEN_RESULT,
  JOB_HANG,
  MESSAGE_BYTES,
  S_DONE,
  S_JOB,
  S_MESSAGE_BYTE,
  S_MESSAGE_LENGTH,
  S_POSTED,
  S_RESULT,
  S_STATUS,
  SLOT_WORDS,
  slotWord,
} from "./pool_protocol.ts";

interface Start {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly ctrl: number;
  readonly index: number;
  /** How long (ms) this worker polls for the next round (default {@link SPIN_MS}). */
  readonly spinMs?: number;
}

interface Kernels {
  run_job(pb: number): number;
  hang(flag: number): void;
}

/** Write `error`'s text (ASCII, truncated) into the slot. */
function report(slot: Int32Array, error: unknown): void {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const bytes = new Uint8Array(slot.buffer, slot.byteOffset + S_MESSAGE_BYTE, MESSAGE_BYTES);
  const n = Math.min(text.length, MESSAGE_BYTES);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    bytes[i] = c < 128 ? c : 63;
  }
  slot[S_MESSAGE_LENGTH] = n;
}

/**
 * How long (ms) a worker polls for the next round before it sleeps: a call's next round, such
 * as the next row block, usually comes within this, and a sleeping thread is slower to wake.
 * The pool's last worker can be given longer ($SAESERVE_SPIN_MS): on a virtual machine whose
 * cores all went idle, a woken worker tends to land on the core of the thread that woke it (the
 * other core's host thread was descheduled), and the two halves of a 1-row encode then run one
 * after the other; a worker still polling keeps its core and starts at once.
 */
export const SPIN_MS = 0.1;

/** Wait until POSTED differs from `done`: poll for `spinMs`, then sleep on the word. */
function nextRound(slot: Int32Array, done: number, spinMs: number): number {
  let posted = Atomics.load(slot, S_POSTED);
  if (posted !== done) return posted;
  const until = performance.now() + spinMs;
  for (let i = 1; (posted = Atomics.load(slot, S_POSTED)) === done; i++) {
    if ((i & 63) === 0 && performance.now() > until) break;
  }
  while ((posted = Atomics.load(slot, S_POSTED)) === done) Atomics.wait(slot, S_POSTED, done);
  return posted;
}

function serve(
  kernels: Kernels,
  header: Int32Array,
  slot: Int32Array,
  options: { cancelAt: number; spinMs: number },
): void {
  // DONE is the state to compare against: a round posted before this line is still seen.
  let done = Atomics.load(slot, S_DONE);
  while (true) {
    const posted = nextRound(slot, done, options.spinMs);
    if (Atomics.load(header, H_CANCEL) !== 0) return;
    const job = Atomics.load(slot, S_JOB);
    let status = 0;
    let result = 0;
    try {
      if (job === JOB_HANG) kernels.hang(options.cancelAt);
      else result = kernels.run_job(job);
    } catch (e) {
      status = 1;
      report(slot, e);
    }
    slot[S_RESULT] = result;
    slot[S_STATUS] = status;
    if (result === 1) Atomics.add(header, H_STOPPED, 1);
    Atomics.store(slot, S_DONE, posted);
    done = posted;
    const left = Atomics.sub(header, H_REMAINING, 1) - 1;
    if (left === 1 && Atomics.load(header, H_THEN) !== 0) runThen(kernels, header, slot);
    else if (left === 0) Atomics.notify(header, H_REMAINING);
  }
}

/** The last job of the round is done: run the round's THEN job, then end the round. */
function runThen(kernels: Kernels, header: Int32Array, slot: Int32Array): void {
  let result = -1;
  if (Atomics.load(header, H_STOPPED) === 0) {
    try {
      result = kernels.run_job(Atomics.load(header, H_THEN));
    } catch (e) {
      slot[S_STATUS] = 1;
      report(slot, e);
    }
  }
  header[H_THEN_RESULT] = result;
  Atomics.sub(header, H_REMAINING, 1);
  Atomics.notify(header, H_REMAINING);
}

self.onmessage = async (e: MessageEvent<Start>) => {
  self.onmessage = null;
  const { module, memory, ctrl, index, spinMs } = e.data;
  const header = new Int32Array(memory.buffer, ctrl, slotWord(0));
  try {
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    const kernels = instance.exports as unknown as Kernels;
    const slot = new Int32Array(memory.buffer, ctrl + 4 * slotWord(index), SLOT_WORDS);
    self.postMessage("ready");
    serve(kernels, header, slot, { cancelAt: ctrl + 4 * H_CANCEL, spinMs: spinMs ?? SPIN_MS });
  } catch (err) {
    self.postMessage({ error: err instanceof Error ? err.message : String(err) });
  } finally {
    Atomics.add(header, H_EXITED, 1);
    Atomics.notify(header, H_EXITED);
    self.close();
  }
};
