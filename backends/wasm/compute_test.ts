import assert from "node:assert/strict";
import type { SaeWeights } from "../../domain/sae/dictionary.ts";
import { matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import { uniformArray } from "../../domain/random.ts";
import { referenceBackend } from "../reference/mod.ts";
import { KernelCalls } from "./calls.ts";
import { checkIndices, WasmCompute } from "./compute.ts";
import { SharedHeap } from "./heap.ts";
import { compileKernels } from "./kernels_module.ts";
import { KernelPool } from "./pool.ts";
import { WeightStore } from "./weights.ts";

const heap = new SharedHeap(
  new WebAssembly.Memory({ initial: 32, maximum: 1024, shared: true }),
  0,
);
const pool = await KernelPool.start(await compileKernels(), heap, { threads: 2 });
const calls = new KernelCalls(pool, { heap, checkpointWork: 1 << 16 });
const store = new WeightStore(calls, { precision: "f32" });
const compute = new WasmCompute(calls, { precision: "f32" });
const reference = referenceBackend();

const w: SaeWeights = {
  dIn: 12,
  dSae: 40,
  wEnc: matrix([12, 40], uniformArray(480, 1)),
  wDec: matrix([40, 12], uniformArray(480, 2)),
  bDec: uniformArray(12, 3),
  preBias: null,
  activation: { kind: "groupmax", bEnc: uniformArray(40, 4, { scale: 0.1 }), k: 5 },
  normalization: "none",
  wSkip: null,
};

function assertClose(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-4, `${what} ${i}: ${v} vs ${b[i]}`));
}

Deno.test("checkIndices refuses indices outside [0, d_sae)", () => {
  const codes = (i: number): SparseRows => ({
    width: 4,
    indices: [Int32Array.from([i])],
    values: [Float32Array.from([1])],
  });
  checkIndices(codes(3), 4);
  assert.throws(() => checkIndices(codes(4), 4), RangeError);
  assert.throws(() => checkIndices(codes(-1), 4), RangeError);
});

Deno.test("encode (groupmax), dense decode (both paths) and steer match the reference", async () => {
  const p = await store.prepare(w);
  const pr = await reference.prepare(w);
  try {
    const s = matrix([3, 12], uniformArray(36, 5));
    const codes = compute.encode(p, s, { top: 3 });
    const want = await reference.encode(pr, s, { top: 3 });
    assert.deepEqual((await codes).indices.map((ix) => [...ix]), want.indices.map((ix) => [...ix]));
    const sparse = matrix([2, 40]);
    sparse.data[7] = 1.5;
    const dense = matrix([2, 40], uniformArray(80, 6));
    for (const [name, c] of [["sparse", sparse], ["dense", dense]] as const) {
      assertClose(
        (await compute.decodeDense(p, c)).data,
        (await reference.decodeDense(pr, c)).data,
        name,
      );
    }
    const x = matrix([3, 12], uniformArray(36, 7));
    const rowScale = Float32Array.from([1, 0.5, 2]);
    assertClose(
      (await compute.steer(p, x, { deltas: want, rowScale })).data,
      (await reference.steer(pr, x, want, { rowScale })).data,
      "steer",
    );
    assert.throws(() => compute.encode(p, matrix([1, 11])), RangeError);
  } finally {
    store.release(p);
  }
});

Deno.test("matmul, plain and transposed, matches the reference; shapes are checked", async () => {
  const a = matrix([4, 9], uniformArray(36, 8));
  const b = matrix([9, 5], uniformArray(45, 9));
  const bt = matrix([5, 9], uniformArray(45, 10));
  assertClose((await compute.matmul(a, b)).data, (await reference.matmul(a, b)).data, "plain");
  assertClose(
    (await compute.matmul(a, bt, { transposeB: true })).data,
    (await reference.matmul(a, bt, { transposeB: true })).data,
    "transposed",
  );
  await assert.rejects(compute.matmul(a, bt), RangeError);
});

Deno.test("compute: close the pool (last test)", () => pool.close());
