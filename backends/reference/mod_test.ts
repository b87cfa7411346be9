import assert from "node:assert/strict";
import { matrix } from "../../domain/sae/matrix.ts";
import { activate } from "../../domain/sae/activation.ts";
import { referenceBackend } from "./mod.ts";
import { conformanceTests } from "../../tests/conformance.ts";

conformanceTests("reference", () => referenceBackend(), 1e-5);

Deno.test("reference matmul matches a hand-computed product, plain and transposed", async () => {
  const b = referenceBackend();
  const a = matrix(2, 3, Float32Array.from([1, 2, 3, 4, 5, 6]));
  const m = matrix(3, 2, Float32Array.from([1, 0, 0, 1, 1, 1]));
  assert.deepEqual(Array.from((await b.matmul(a, m)).data), [4, 5, 10, 11]);
  const mt = matrix(2, 3, Float32Array.from([1, 0, 1, 0, 1, 1]));
  assert.deepEqual(Array.from((await b.matmul(a, mt, { transposeB: true })).data), [4, 5, 10, 11]);
});

Deno.test("jumprelu is strict at the threshold; topk applies relu after choosing", () => {
  const p = Float32Array.from([1, 2, -3]);
  const zero = new Float32Array(3);
  const jump = activate({
    kind: "jumprelu",
    bEnc: zero,
    threshold: Float32Array.from([1, 1.5, -5]),
  }, p);
  assert.deepEqual(Array.from(jump), [0, 2, 0]);
  const topk = activate({ kind: "topk", bEnc: zero, k: 3 }, p);
  assert.deepEqual(Array.from(topk), [1, 2, 0]);
});

Deno.test("gated keeps relu(magnitude) where the gate is open", () => {
  const f = activate({
    kind: "gated",
    bGate: Float32Array.from([0, -5]),
    magScale: Float32Array.from([2, 2]),
    bMag: Float32Array.from([-1, 0]),
  }, Float32Array.from([1, 1]));
  assert.deepEqual(Array.from(f), [1, 0]);
});

Deno.test("groupmax keeps each group's maximum at its argmax", () => {
  const f = activate(
    { kind: "groupmax", bEnc: new Float32Array(6), k: 2 },
    Float32Array.from([1, 3, 3, -1, -2, -3]),
  );
  assert.deepEqual(Array.from(f), [0, 3, 0, 0, 0, 0]);
});

Deno.test("topK over a dense matrix keeps zeros and ranks per row", async () => {
  const r = await referenceBackend().topK(matrix(2, 3, Float32Array.from([0, 1, 0, 5, 5, 4])), 2);
  assert.deepEqual(r.indices.map((ix) => Array.from(ix)), [[1, 0], [0, 1]]);
});
