import assert from "node:assert/strict";
import { SaeError } from "../../domain/errors.ts";
import { abortable, CHUNK_BYTES, KernelCalls } from "./calls.ts";
import { SharedHeap } from "./heap.ts";
import { compileKernels } from "./kernels_module.ts";
import { KernelPool } from "./pool.ts";
import { JOB_HANG } from "./pool_protocol.ts";

const heap = new SharedHeap(
  new WebAssembly.Memory({ initial: 32, maximum: 1024, shared: true }),
  0,
);
const pool = await KernelPool.start(await compileKernels(), heap, { threads: 2 });
const calls = new KernelCalls(pool, { heap, checkpointWork: 4096 });

Deno.test("a call's scratch is freed when it ends, resolved or rejected", async () => {
  const before = heap.allocatedBytes;
  const seen = await calls.call(undefined, (ctx) => {
    // Small pieces come from one chunk, 64-byte aligned and apart; a large one has its own block.
    const small = [ctx.alloc(1000), ctx.alloc(64), ctx.alloc(1)];
    assert.deepEqual(small.map((p) => p % 64), [0, 0, 0]);
    assert.deepEqual([small[1] - small[0], small[2] - small[1]], [1024, 64]);
    const inChunk = heap.allocatedBytes - before;
    const large = ctx.alloc(CHUNK_BYTES / 4 + 1);
    assert.ok(large >= small[0] + CHUNK_BYTES || large + CHUNK_BYTES / 4 < small[0]);
    // A chunk that cannot hold the next piece is left for a new one.
    const pieces = Array.from({ length: 5 }, () => ctx.alloc(CHUNK_BYTES / 4));
    assert.equal(new Set(pieces).size, 5);
    assert.equal(ctx.threads, 2);
    return Promise.resolve([inChunk, heap.allocatedBytes - before]);
  });
  assert.equal(seen[0], CHUNK_BYTES);
  assert.equal(seen[1], 2 * CHUNK_BYTES + (CHUNK_BYTES / 4 + 64), "two chunks and the large block");
  assert.equal(heap.allocatedBytes, before);
  await assert.rejects(
    calls.call(undefined, (ctx) => {
      ctx.alloc(512);
      return Promise.reject(new Error("kernel said no"));
    }),
    /kernel said no/,
  );
  assert.equal(heap.allocatedBytes, before);
});

Deno.test("an aborted call rejects with the signal's reason, before or while it runs", async () => {
  await assert.rejects(
    calls.call({ signal: AbortSignal.abort(new Error("late")) }, () => Promise.resolve(1)),
    /late/,
  );
  const controller = new AbortController();
  const running = calls.call({ signal: controller.signal }, () => new Promise(() => {}));
  controller.abort(new Error("client gone"));
  await assert.rejects(running, /client gone/);
});

Deno.test("abortable settles like the work unless the signal aborts first", async () => {
  assert.equal(await abortable(Promise.resolve(3), new AbortController().signal), 3);
  await assert.rejects(
    abortable(new Promise(() => {}), AbortSignal.timeout(1)),
    /TimeoutError|timed out/i,
  );
});

Deno.test("rounds go through the pool; after close calls fail as unavailable (last test)", async () => {
  const results = await calls.call(undefined, (ctx) => ctx.round([0, 0]));
  assert.deepEqual([...results], [0, 0, -1]);
  calls.close();
  await assert.rejects(
    calls.call(undefined, (ctx) => ctx.round([JOB_HANG])),
    (e) => e instanceof SaeError && e.kind === "unavailable",
  );
  pool.close();
});
