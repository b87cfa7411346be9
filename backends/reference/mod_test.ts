import assert from "node:assert/strict";
import { matrix } from "../../domain/sae/matrix.ts";
import { referenceBackend } from "./mod.ts";
import { conformanceTests } from "../../tests/conformance.ts";

conformanceTests("reference", () => referenceBackend(), { tol: 1e-5 });

Deno.test("reference matmul matches a hand-computed product, plain and transposed", async () => {
  const b = referenceBackend();
  const a = matrix([2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]));
  const m = matrix([3, 2], Float32Array.from([1, 0, 0, 1, 1, 1]));
  assert.deepEqual(Array.from((await b.matmul(a, m)).data), [4, 5, 10, 11]);
  const mt = matrix([2, 3], Float32Array.from([1, 0, 1, 0, 1, 1]));
  assert.deepEqual(Array.from((await b.matmul(a, mt, { transposeB: true })).data), [4, 5, 10, 11]);
});

Deno.test("topK over a dense matrix keeps zeros and ranks per row", async () => {
  const r = await referenceBackend().topK(matrix([2, 3], Float32Array.from([0, 1, 0, 5, 5, 4])), 2);
  assert.deepEqual(r.indices.map((ix) => Array.from(ix)), [[1, 0], [0, 1]]);
});
