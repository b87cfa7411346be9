import assert from "node:assert/strict";
import { jsonText, typedNumbers } from "./json_text.ts";

Deno.test("jsonText writes typed arrays as the lists JSON.stringify writes for Array.from", () => {
  const rows = [Float32Array.of(0.1, -2.5e-8, 3), Float32Array.of(1e30, 0, -0)];
  const value = { a: rows, i: [Int32Array.of(1, -7)], n: 3, s: "x", u: undefined };
  const expected = JSON.stringify({
    a: rows.map((r) => Array.from(r)),
    i: [[1, -7]],
    n: 3,
    s: "x",
  });
  assert.equal(new TextDecoder().decode(jsonText(value)), expected);
  assert.equal(typedNumbers(value), 8);
});
