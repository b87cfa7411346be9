/**
 * The kernel pool's protocol and failure handling, and the causes of the futex hang (issue
 * 14: the request thread and worker-1 both asleep on a futex, 0 % CPU, SIGTERM ignored):
 *
 * - the old worker said "ready" before reading the round counter, so a round posted in that
 *   gap was never seen: the caller slept in Atomics.wait forever (reproduced by starting a pool
 *   and posting a round at once: hung on the first or second try of 200);
 * - a kernel that trapped in a worker killed it silently (its error handler only
 *   preventDefault()ed), the round "finished" with garbage, and the next round waited for the
 *   dead worker forever;
 * - a round posted after close() waited for workers that had exited.
 *
 * The new protocol compares state (POSTED vs DONE per worker) instead of waiting for an edge,
 * reports traps per job, and refuses work after close; a watchdog replaces stuck workers.
 * @module
 */

import assert from "node:assert/strict";
import { SaeError } from "../../domain/errors.ts";
import { SharedHeap } from "./heap.ts";
import { compileKernels } from "./kernels_module.ts";
import { KernelPool, KernelStuckError } from "./pool.ts";
import { COMMON, OP, P, PARAM_WORDS } from "./params.ts";
import {
  controlBytes,
  H_EXITED,
  H_REMAINING,
  JOB_HANG,
  S_JOB,
  S_POSTED,
  slotWord,
} from "./pool_protocol.ts";

const module = await compileKernels();

function newHeap(): SharedHeap {
  const memory = new WebAssembly.Memory({ initial: 32, maximum: 65536, shared: true });
  return new SharedHeap(memory, 1 << 20);
}

/**
 * A tiny dense GEMM job: C [1, 8] = A [1, 8] @ B [8, 8] with A = 1..8 and B = identity, or
 * with A at `badA` (an address past the end of memory: the kernel traps).
 */
function gemmJob(heap: SharedHeap, options: { badA?: number } = {}): { pb: number; c: number } {
  const a = heap.alloc(8 * 4);
  heap.f32(a, 8).set([1, 2, 3, 4, 5, 6, 7, 8]);
  const b = heap.alloc(64 * 4);
  const bv = heap.f32(b, 64);
  bv.fill(0);
  for (let k = 0; k < 8; k++) bv[k * 8 + k] = 1;
  const c = heap.alloc(8 * 4);
  heap.f32(c, 8).fill(0);
  const pb = heap.alloc(PARAM_WORDS * 4);
  const w = heap.i32(pb, PARAM_WORDS);
  w.fill(0);
  w[COMMON.OP] = OP.gemm;
  w[P.A] = options.badA ?? a;
  w[P.LDA] = 8;
  w[P.M] = 1;
  w[P.B] = b;
  w[P.K] = 8;
  w[P.N0] = 0;
  w[P.N1] = 8;
  w[P.LDB] = 32;
  w[P.PSTRIDE] = 256;
  w[P.C] = c;
  w[P.LDC] = 8;
  w[P.NREAL] = 8;
  return { pb, c };
}

/** Resolve once `words[index]` equals `value`, or reject after `ms`. */
async function waitFor(words: Int32Array, index: number, value: number, ms: number) {
  const deadline = performance.now() + ms;
  let v: number;
  while ((v = Atomics.load(words, index)) !== value) {
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`word ${index} is ${v}, not ${value}, after ${ms} ms`);
    const waiting = Atomics.waitAsync(words, index, v, left);
    if (waiting.async) await waiting.value;
  }
}

Deno.test("kernels keep no state in memory: no data segments, globals or start function", async () => {
  const bytes = await Deno.readFile(new URL("./build/kernels.wasm", import.meta.url));
  // Section ids: 6 global, 8 start, 11 data. AssemblyScript's stub runtime would add a heap
  // pointer global and static data that every instance on the shared memory re-initialises.
  const ids: number[] = [];
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at++];
    let size = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = bytes[at++];
      size |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    ids.push(id);
    at += size;
  }
  for (const forbidden of [6, 8, 11]) assert.ok(!ids.includes(forbidden), `section ${forbidden}`);
  const exports = WebAssembly.Module.exports(module).map((e) => e.name).sort();
  assert.deepEqual(exports, ["hang", "memory", "run_job"]);
});

Deno.test("a round posted before a worker starts waiting is still run (no missed wake-up)", async () => {
  const heap = newHeap();
  const job = gemmJob(heap);
  const ctrl = heap.alloc(controlBytes(1));
  const words = heap.i32(ctrl, controlBytes(1) / 4);
  words.fill(0);
  // Post the round first: the old worker read the round counter only after saying "ready",
  // and slept through a round posted in between.
  words[slotWord(0) + S_JOB] = job.pb;
  Atomics.store(words, H_REMAINING, 1);
  Atomics.add(words, slotWord(0) + S_POSTED, 1);
  const worker = new Worker(new URL("./worker.ts", import.meta.url).href, {
    type: "module",
  });
  try {
    worker.postMessage({ module, memory: heap.memory, ctrl, index: 0 });
    await waitFor(words, H_REMAINING, 0, 10_000);
    assert.deepEqual([...heap.f32(job.c, 8)], [1, 2, 3, 4, 5, 6, 7, 8]);
  } finally {
    Atomics.store(words, 1, 1); // H_CANCEL
    Atomics.add(words, slotWord(0) + S_POSTED, 1);
    Atomics.notify(words, slotWord(0) + S_POSTED);
    await waitFor(words, H_EXITED, 1, 10_000);
    worker.terminate();
  }
});

Deno.test("rounds posted the moment a pool is ready finish (the startup race, 20 pools)", async () => {
  for (let trial = 0; trial < 20; trial++) {
    const heap = newHeap();
    const pool = await KernelPool.start(module, heap, { threads: 2, watchdogMs: 5_000 });
    try {
      const a = gemmJob(heap);
      const b = gemmJob(heap);
      await pool.run([a.pb, b.pb]);
      assert.deepEqual([...heap.f32(b.c, 8)], [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal(pool.replacements, 0, `trial ${trial} needed the watchdog`);
    } finally {
      pool.close();
    }
  }
});

Deno.test("a kernel that traps fails its round with the error; the pool keeps working", async () => {
  const heap = newHeap();
  const pool = await KernelPool.start(module, heap, { threads: 2, watchdogMs: 5_000 });
  try {
    const good = gemmJob(heap);
    const bad = gemmJob(heap, { badA: 0x7ff00000 });
    await assert.rejects(pool.run([good.pb, bad.pb]), /memory access out of bounds/);
    // The old worker died here and the next round hung forever.
    const again = gemmJob(heap);
    const other = gemmJob(heap);
    await pool.run([again.pb, other.pb]);
    assert.deepEqual([...heap.f32(other.c, 8)], [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(pool.replacements, 0);
    assert.deepEqual(pool.health(), { healthy: true });
  } finally {
    pool.close();
  }
});

Deno.test("after close, rounds fail with unavailable instead of waiting forever", async () => {
  const heap = newHeap();
  const pool = await KernelPool.start(module, heap, { threads: 2 });
  pool.close();
  await assert.rejects(
    pool.run([gemmJob(heap).pb]),
    (e: unknown) => e instanceof SaeError && e.kind === "unavailable",
  );
  assert.equal(pool.health().healthy, false);
});

Deno.test("the watchdog replaces stuck workers; the stuck round fails, queued rounds run on the new ones", async () => {
  const heap = newHeap();
  const reasons: string[] = [];
  const pool = await KernelPool.start(module, heap, {
    threads: 2,
    watchdogMs: 200,
    onReplaced: (why) => reasons.push(why),
  });
  try {
    const started = performance.now();
    const stuck = pool.run([JOB_HANG]);
    const queued = gemmJob(heap);
    const behind = pool.run([0, queued.pb]);
    const error = await stuck.then(() => null, (e) => e);
    assert.ok(error instanceof KernelStuckError, String(error));
    assert.equal(error.kind, "unavailable");
    assert.ok(performance.now() - started < 5_000);
    assert.equal(pool.health().healthy, false, "unhealthy while the workers are replaced");
    await behind;
    assert.deepEqual([...heap.f32(queued.c, 8)], [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(pool.health(), { healthy: true });
    assert.equal(pool.replacements, 1);
    assert.match(reasons[0], /no progress for 200 ms/);
    // The hung worker saw the cancel word and left: its memory may be reused.
    await error.retired;
  } finally {
    pool.close();
  }
});
