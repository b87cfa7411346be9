import assert from "node:assert/strict";
import { activate, activateRows, sparsify } from "./activation.ts";
import { matrix } from "./matrix.ts";

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

Deno.test("tanh_relu is tanh(relu(p + b_enc))", () => {
  const f = activate(
    { kind: "tanh_relu", bEnc: Float32Array.from([0, 0.5, -1, 0]) },
    Float32Array.from([1, 0.25, 0.5, -2]),
  );
  assert.deepEqual(Array.from(f), [Math.tanh(1), Math.tanh(0.75), 0, 0].map(Math.fround));
});

Deno.test("topk_signed keeps the k largest as they are, negative ones included", () => {
  const zero = new Float32Array(4);
  // saev's test_topk_negative_values: the two largest of all-negative pre-activations.
  const p = Float32Array.from([-5, -1, -3, -2]);
  assert.deepEqual(Array.from(activate({ kind: "topk_signed", bEnc: zero, k: 2 }, p)), [
    0,
    -1,
    0,
    -2,
  ]);
  // The rectified topk selects the same entries, then zeroes them.
  assert.deepEqual(Array.from(activate({ kind: "topk", bEnc: zero, k: 2 }, p)), [0, 0, 0, 0]);
  // Bias first; ties go to the lower index.
  const tied = activate(
    { kind: "topk_signed", bEnc: Float32Array.from([1, 0, 0, 0]), k: 2 },
    Float32Array.from([-1, 0.5, 0.5, 0.5]),
  );
  assert.deepEqual(Array.from(tied), [0, 0.5, 0.5, 0]);
});

Deno.test("sparse signed codes: value descending, negatives last, `top` keeps the largest", () => {
  const f = Float32Array.from([0, -1, 3, -2, 0.5]);
  const all = sparsify(f);
  assert.deepEqual([...all.indices], [2, 4, 1, 3]);
  assert.deepEqual([...all.values], [3, 0.5, -1, -2]);
  assert.deepEqual([...sparsify(f, 3).indices], [2, 4, 1]);
  const rows = activateRows(
    { kind: "topk_signed", bEnc: new Float32Array(4), k: 3 },
    matrix([2, 4], Float32Array.from([-5, -1, -3, -2, 4, 0, -1, 2])),
    { top: 2 },
  );
  assert.deepEqual(rows.indices.map((ix) => [...ix]), [[1, 3], [0, 3]]);
  assert.deepEqual(rows.values.map((v) => [...v]), [[-1, -2], [4, 2]]);
});
