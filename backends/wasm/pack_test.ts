import assert from "node:assert/strict";
import { matrix } from "../../domain/sae/matrix.ts";
import { SharedHeap } from "./heap.ts";
import { copyPadded, packVector, pad8, precisionBytes } from "./pack.ts";

const heap = new SharedHeap(new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true }), 0);

Deno.test("pad8 and precisionBytes", () => {
  assert.deepEqual([0, 1, 8, 9].map(pad8), [0, 8, 8, 16]);
  assert.deepEqual([precisionBytes("f32"), precisionBytes("bf16"), precisionBytes("f16")], [
    4,
    2,
    2,
  ]);
});

Deno.test("packVector copies a vector zero-padded to a multiple of 8", () => {
  const dirty = heap.alloc(64);
  heap.f32(dirty, 16).fill(9);
  heap.free(dirty);
  const ptr = packVector(heap, Float32Array.from([1, 2, 3]));
  assert.deepEqual([...heap.f32(ptr, 8)], [1, 2, 3, 0, 0, 0, 0, 0]);
  heap.free(ptr);
});

Deno.test("copyPadded pads each row with zeros to ld, or copies as is when ld = cols", () => {
  const m = matrix([2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]));
  const ptr = heap.alloc(64);
  heap.f32(ptr, 16).fill(9);
  copyPadded(heap, m, { ptr, ld: 5 });
  assert.deepEqual([...heap.f32(ptr, 10)], [1, 2, 3, 0, 0, 4, 5, 6, 0, 0]);
  copyPadded(heap, m, { ptr, ld: 3 });
  assert.deepEqual([...heap.f32(ptr, 6)], [1, 2, 3, 4, 5, 6]);
  heap.free(ptr);
});
