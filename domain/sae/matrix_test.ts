import assert from "node:assert/strict";
import { matrix, row } from "./matrix.ts";

Deno.test("matrix: zero-filled by default, and the data length is checked", () => {
  const m = matrix([2, 3]);
  assert.equal(m.data.length, 6);
  assert.ok(m.data.every((v) => v === 0));
  assert.throws(() => matrix([2, 3], new Float32Array(5)), RangeError);
});

Deno.test("row: a view of one row that shares the matrix's memory", () => {
  const m = matrix([2, 3], Float32Array.of(1, 2, 3, 4, 5, 6));
  assert.deepEqual([...row(m, 1)], [4, 5, 6]);
  row(m, 0)[2] = 9;
  assert.equal(m.data[2], 9);
});
