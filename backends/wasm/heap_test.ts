import assert from "node:assert/strict";
import { SharedHeap } from "./heap.ts";

function newHeap(): SharedHeap {
  return new SharedHeap(new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true }), 100);
}

Deno.test("alloc returns 64-byte aligned blocks above the base, sizes rounded up", () => {
  const heap = newHeap();
  const a = heap.alloc(1);
  const b = heap.alloc(65);
  assert.equal(a, 128);
  assert.equal(b, 192);
  assert.equal(heap.allocatedBytes, 64 + 128);
});

Deno.test("freed neighbours coalesce and are reused first-fit", () => {
  const heap = newHeap();
  const a = heap.alloc(64);
  const b = heap.alloc(64);
  heap.alloc(64); // keeps a and b below the top
  heap.free(a);
  heap.free(b);
  assert.equal(heap.alloc(128), a, "a and b merged into one 128-byte block");
  assert.throws(() => heap.free(12345), RangeError);
});

Deno.test("freeing the top block gives it back; the memory grows when nothing fits", () => {
  const heap = newHeap();
  const a = heap.alloc(64);
  heap.free(a);
  assert.equal(heap.alloc(64), a);
  const pages = heap.memory.buffer.byteLength / 65536;
  const big = heap.alloc(3 * 65536);
  assert.ok(heap.memory.buffer.byteLength / 65536 >= pages + 3);
  heap.f32(big, 3 * 16384).fill(1);
  assert.throws(() => heap.alloc(64 * 65536), RangeError, "beyond the maximum");
});

Deno.test("shrink returns a block's tail to the free space", () => {
  const heap = newHeap();
  const a = heap.alloc(1024);
  heap.alloc(64);
  heap.shrink(a, 100);
  assert.equal(heap.allocatedBytes, 128 + 64);
  assert.equal(heap.alloc(64), a + 128, "the tail is allocatable again");
});

Deno.test("views of one address share the memory", () => {
  const heap = newHeap();
  const p = heap.alloc(16);
  heap.f32(p, 1)[0] = 1;
  assert.equal(heap.i32(p, 1)[0], 0x3f800000);
  assert.deepEqual([...heap.u16(p, 2)], [0, 0x3f80]);
});
