import assert from "node:assert/strict";
import { isPrecision, PRECISIONS } from "./precision.ts";

Deno.test("isPrecision accepts exactly the listed precisions", () => {
  assert.deepEqual(PRECISIONS, ["f32", "bf16", "f16", "int8"]);
  for (const p of PRECISIONS) assert.ok(isPrecision(p));
  for (const v of ["F32", "fp16", "INT8", "i8", "", "f64", 32, null, undefined]) {
    assert.ok(!isPrecision(v));
  }
});
