import assert from "node:assert/strict";
import { columnSlice, spans } from "./chunks.ts";

Deno.test("spans cut a total into whole multiples, the last one shorter", () => {
  assert.deepEqual(spans(300, 130, { multiple: 64 }), [
    { start: 0, end: 128 },
    { start: 128, end: 256 },
    { start: 256, end: 300 },
  ]);
  assert.deepEqual(spans(5, 10), [{ start: 0, end: 5 }]);
  assert.deepEqual(spans(0, 10), []);
});

Deno.test("spans throw when not even one multiple fits", () => {
  assert.throws(() => spans(100, 63, { multiple: 64 }), RangeError);
});

Deno.test("columnSlice copies columns [start, end) of every row", () => {
  const data = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]); // 2 x 4
  assert.deepEqual([
    ...columnSlice(data, { shape: { rows: 2, cols: 4 }, span: { start: 1, end: 3 } }),
  ], [
    2,
    3,
    6,
    7,
  ]);
});
