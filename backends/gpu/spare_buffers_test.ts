import assert from "node:assert/strict";
import { SpareBuffers } from "./spare_buffers.ts";

Deno.test("spare buffers: the smallest kept buffer that fits is reused, else one is made", () => {
  const spare = new SpareBuffers();
  const a = spare.take(100);
  const b = spare.take(1000);
  assert.deepEqual(spare.counts(), { reused: 0, made: 2 });
  spare.give(b);
  spare.give(a);
  assert.equal(spare.take(50), a, "the smallest that fits");
  assert.equal(spare.take(50), b, "a is taken: b fits");
  assert.equal(spare.take(500).byteLength, 500, "nothing kept: a new one");
  assert.deepEqual(spare.counts(), { reused: 2, made: 3 });
});

Deno.test("spare buffers: beyond the count or byte limit, or detached, a buffer is dropped", () => {
  const spare = new SpareBuffers({ maxKept: 2, maxBytes: 1000 });
  spare.give(new ArrayBuffer(600));
  spare.give(new ArrayBuffer(600)); // 1200 > 1000 bytes: dropped
  spare.give(new ArrayBuffer(300));
  spare.give(new ArrayBuffer(10)); // a third buffer: dropped
  const moved = new ArrayBuffer(8);
  structuredClone(moved, { transfer: [moved] });
  spare.give(moved); // detached: byteLength 0
  assert.equal(spare.take(600).byteLength, 600);
  assert.equal(spare.take(300).byteLength, 300);
  assert.deepEqual(spare.counts(), { reused: 2, made: 0 });
  assert.equal(spare.take(1).byteLength, 1);
  assert.deepEqual(spare.counts(), { reused: 2, made: 1 });
});
