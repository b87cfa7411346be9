import assert from "node:assert/strict";
import { SharedHeap } from "./heap.ts";
import { type CallContext, PARALLEL_MIN_WORK, parallelParts, paramBlock, runToEnd } from "./ops.ts";
import { COMMON, MERGE, OP, PARAM_WORDS } from "./params.ts";

/** A context whose rounds are answered by `answer` (no workers), recording what was posted. */
function fakeContext(
  answer: (jobs: readonly number[], then: number) => number[],
  threads = 4,
): CallContext & { posted: [number[], number][] } {
  const heap = new SharedHeap(new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true }), 0);
  const posted: [number[], number][] = [];
  return {
    heap,
    threads,
    checkpointWork: 1 << 20,
    posted,
    round(jobs: readonly number[], then = 0): Promise<Int32Array> {
      posted.push([[...jobs], then]);
      return Promise.resolve(Int32Array.from(answer(jobs, then)));
    },
    alloc: (bytes: number) => heap.alloc(bytes),
  };
}

Deno.test("paramBlock zeroes a block, sets its operation and reads and writes named words", () => {
  const ctx = fakeContext(() => []);
  const dirty = ctx.heap.alloc(PARAM_WORDS * 4);
  ctx.heap.i32(dirty, PARAM_WORDS).fill(-1);
  ctx.heap.free(dirty);
  const block = paramBlock(ctx, MERGE, { op: OP.merge });
  assert.equal(block.set({ R0: 3, R1: 9 }), block.pb);
  const words = ctx.heap.i32(block.pb, PARAM_WORDS);
  assert.equal(words[COMMON.OP], OP.merge);
  assert.equal(words[MERGE.R1], 9);
  assert.equal(block.get("R0"), 3);
  assert.equal(words[MERGE.DESC], 0);
});

Deno.test("parallelParts: one worker below the minimum work, else at most one per 8 columns", () => {
  const ctx = fakeContext(() => [], 4);
  assert.equal(parallelParts(ctx, { work: PARALLEL_MIN_WORK - 1, n: 1000 }), 1);
  assert.equal(parallelParts(ctx, { work: PARALLEL_MIN_WORK, n: 1000 }), 4);
  assert.equal(parallelParts(ctx, { work: PARALLEL_MIN_WORK, n: 16 }), 2);
});

Deno.test("runToEnd posts stopped jobs again until each finished, then runs `then`", async () => {
  // Job 11 stops once; job 22 finishes at once; `then` (33) is refused while a job stopped.
  let stops = 1;
  const ctx = fakeContext((jobs, then) => {
    const results = jobs.map((job) => (job === 11 && stops-- > 0 ? 1 : 0));
    const stopped = results.some((r) => r === 1);
    return [...results, then !== 0 && !stopped ? 0 : -1];
  });
  await runToEnd(ctx, [11, 22], { then: 33 });
  assert.deepEqual(ctx.posted, [[[11, 22], 33], [[11, 0], 33]]);
});

Deno.test("runToEnd runs a `then` that did not run with the last round as a job of its own", async () => {
  const ctx = fakeContext((jobs) => [...jobs.map(() => 0), -1]);
  await runToEnd(ctx, [5], { then: 6 });
  assert.deepEqual(ctx.posted, [[[5], 6], [[6], 0]]);
});
