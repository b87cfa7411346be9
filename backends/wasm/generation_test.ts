import assert from "node:assert/strict";
import { SharedHeap } from "./heap.ts";
import { compileKernels } from "./kernels_module.ts";
import { retireGeneration, slotMessage, spawnGeneration } from "./generation.ts";
import {
  H_EXITED,
  MESSAGE_BYTES,
  S_MESSAGE_BYTE,
  S_MESSAGE_LENGTH,
  slotWord,
} from "./pool_protocol.ts";

const module = await compileKernels();

function newHeap(): SharedHeap {
  return new SharedHeap(new WebAssembly.Memory({ initial: 32, maximum: 1024, shared: true }), 0);
}

const noFailure = { onFailed: () => assert.fail("failed"), onDied: () => assert.fail("died") };

Deno.test("a generation starts its workers; retired, they leave and its control block is freed", async () => {
  const heap = newHeap();
  const gen = await spawnGeneration(module, heap, { threads: 3, timeoutMs: 30_000, ...noFailure });
  assert.equal(gen.workers.length, 3);
  assert.equal(gen.abandoned, null);
  assert.ok(heap.allocatedBytes > 0);
  retireGeneration(heap, gen, { why: "test over" });
  assert.equal(gen.abandoned, "test over");
  await gen.retired;
  assert.equal(Atomics.load(gen.words, H_EXITED), 3);
  assert.equal(heap.allocatedBytes, 0);
  retireGeneration(heap, gen, { why: "again" });
  assert.equal(gen.abandoned, "test over", "retiring twice changes nothing");
});

Deno.test("terminate retires at once and frees nothing", async () => {
  const heap = newHeap();
  const gen = await spawnGeneration(module, heap, { threads: 1, timeoutMs: 30_000, ...noFailure });
  retireGeneration(heap, gen, { why: "closed", terminate: true });
  assert.equal(gen.abandoned, "closed");
  assert.ok(heap.allocatedBytes > 0, "the control block is left to the memory's owner");
});

Deno.test("slotMessage reads a worker's error text, at most MESSAGE_BYTES", async () => {
  const heap = newHeap();
  const gen = await spawnGeneration(module, heap, { threads: 2, timeoutMs: 30_000, ...noFailure });
  try {
    const slot = slotWord(1);
    const text = "RuntimeError: unreachable";
    const bytes = new Uint8Array(heap.memory.buffer, gen.ctrl + 4 * slot + S_MESSAGE_BYTE, 64);
    bytes.set([...text].map((c) => c.charCodeAt(0)));
    gen.words[slot + S_MESSAGE_LENGTH] = text.length;
    assert.equal(slotMessage(heap, gen, { index: 1 }), text);
    gen.words[slot + S_MESSAGE_LENGTH] = 10_000;
    assert.equal(slotMessage(heap, gen, { index: 1 }).length, MESSAGE_BYTES);
  } finally {
    retireGeneration(heap, gen, { why: "done" });
    await gen.retired;
  }
});
