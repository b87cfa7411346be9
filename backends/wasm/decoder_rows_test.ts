import assert from "node:assert/strict";
import { matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import { KernelCalls } from "./calls.ts";
import { decoderRows } from "./decoder_rows.ts";
import { SharedHeap } from "./heap.ts";
import { compileKernels } from "./kernels_module.ts";
import { copyPadded } from "./pack.ts";
import { PREC } from "./params.ts";
import { KernelPool } from "./pool.ts";

const heap = new SharedHeap(
  new WebAssembly.Memory({ initial: 32, maximum: 1024, shared: true }),
  0,
);
const pool = await KernelPool.start(await compileKernels(), heap, { threads: 2 });
const calls = new KernelCalls(pool, { heap, checkpointWork: 4096 });

Deno.test("decoderRows: out[r] = init[r] + scale[r] * sum of value-weighted decoder rows", async () => {
  // W_dec row i = [i, 10 i, 0, ...] with rows padded to 8.
  const dIn = 3;
  const wDec = matrix([4, dIn], Float32Array.from([0, 0, 1, 1, 10, 1, 2, 20, 1, 3, 30, 1]));
  const ptr = heap.alloc(4 * 8 * 4);
  copyPadded(heap, wDec, { ptr, ld: 8 });
  const codes: SparseRows = {
    width: 4,
    indices: [Int32Array.from([3, 1]), Int32Array.from([]), Int32Array.from([2])],
    values: [Float32Array.from([2, -1]), Float32Array.from([]), Float32Array.from([0.5])],
  };
  try {
    const out = await calls.call(undefined, (ctx) =>
      decoderRows(ctx, codes, {
        decoder: { ptr, bytes: 4 * 8 * 4, ldb: 32, panelStride: 32 },
        dIn,
        prec: PREC.f32,
        init: (r, row) => row.fill(r),
        scale: (r) => (r === 2 ? 4 : 1),
      }));
    assert.deepEqual([...out.data], [5, 50, 1, 1, 1, 1, 6, 42, 4]);
  } finally {
    heap.free(ptr);
  }
});

Deno.test("decoderRows: close the pool (last test)", () => pool.close());
