import assert from "node:assert/strict";
import { SpareBuffers } from "./spare_buffers.ts";

Deno.test("spare buffers: the smallest kept buffer that fits is reused, else one is made", () => {
  const spare = new SpareBuffers();
  const a = spare.take(100);
  const b = spare.take(1000);
  assert.deepEqual(spare.counts(), { reused: 0, made: 2, kept: 0 });
  spare.give(b);
  spare.give(a);
  assert.equal(spare.take(50), a, "the smallest that fits");
  assert.equal(spare.take(50), b, "a is taken: b fits");
  assert.equal(spare.take(500).byteLength, 500, "nothing kept: a new one");
  assert.deepEqual(spare.counts(), { reused: 2, made: 3, kept: 0 });
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
  assert.deepEqual(spare.counts(), { reused: 2, made: 0, kept: 0 });
  assert.equal(spare.take(1).byteLength, 1);
  assert.deepEqual(spare.counts(), { reused: 2, made: 1, kept: 0 });
});

Deno.test("spare buffers: small calls leave large buffers; zero bytes take nothing; larger replace smaller", () => {
  const spare = new SpareBuffers({ maxKept: 2 });
  const large = new ArrayBuffer(1 << 20);
  spare.give(large);
  assert.equal(spare.take(0).byteLength, 0);
  assert.notEqual(
    spare.take(1000),
    large,
    "a 1 MiB buffer is more than twice 1000 bytes and 64 KiB",
  );
  assert.equal(spare.take(600 << 10), large, "at most twice the request: taken");
  spare.give(new ArrayBuffer(100));
  spare.give(new ArrayBuffer(200));
  spare.give(new ArrayBuffer(300)); // full: replaces the 100-byte one
  spare.give(new ArrayBuffer(50)); // full and smaller than both: dropped
  assert.deepEqual([spare.take(150).byteLength, spare.take(250).byteLength], [200, 300]);
  assert.equal(spare.take(80).byteLength, 80, "none kept any more");
});
