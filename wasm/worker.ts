/**
 * A kernel worker: instantiates the kernels on the shared memory, then runs the jobs the
 * pool posts through the control block (Atomics wait/notify, no message per job).
 * @module
 */

/// <reference lib="deno.worker" />

import { CTRL_JOBS, CTRL_PENDING, CTRL_SEQ, JOB_EXIT } from "./pool_protocol.ts";

self.onmessage = async (e: MessageEvent) => {
  const { module, memory, ctrl, index } = e.data as {
    module: WebAssembly.Module;
    memory: WebAssembly.Memory;
    ctrl: number;
    index: number;
  };
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const encode = instance.exports.encode as (pb: number) => void;
  const words = new Int32Array(memory.buffer, ctrl, CTRL_JOBS + index + 1);
  self.postMessage("ready");
  let seq = Atomics.load(words, CTRL_SEQ);
  while (true) {
    Atomics.wait(words, CTRL_SEQ, seq);
    seq = Atomics.load(words, CTRL_SEQ);
    const job = Atomics.load(words, CTRL_JOBS + index);
    if (job === JOB_EXIT) break;
    try {
      if (job !== 0) encode(job);
    } finally {
      Atomics.sub(words, CTRL_PENDING, 1);
      Atomics.notify(words, CTRL_PENDING);
    }
  }
  self.close();
};
