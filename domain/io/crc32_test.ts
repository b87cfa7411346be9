import assert from "node:assert/strict";
import { crc32 } from "./crc32.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("crc32: standard check values", () => {
  assert.equal(crc32(text("")), 0);
  assert.equal(crc32(text("123456789")), 0xcbf43926);
  assert.equal(crc32(text("The quick brown fox jumps over the lazy dog")), 0x414fa339);
});

Deno.test("crc32: incremental over any split equals one pass", () => {
  const bytes = text("The quick brown fox jumps over the lazy dog");
  for (let split = 0; split <= bytes.length; split++) {
    assert.equal(crc32(bytes.subarray(split), crc32(bytes.subarray(0, split))), 0x414fa339);
  }
});
