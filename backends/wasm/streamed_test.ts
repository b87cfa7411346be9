/**
 * bf16 / f16 conversion inside the destination: every shape (columns not a multiple of 8, a
 * single unit, many chunks and the halving tail) lands in the kernels' layouts with the values
 * a plain per-element conversion gives, nothing is written past the destination, and the
 * one-unit scratch is freed.
 * @module
 */

import assert from "node:assert/strict";
import { bf16ToF32, f16ToF32 } from "../../domain/io/dtype.ts";
import { matrix } from "../../domain/sae/matrix.ts";
import { KernelCalls } from "./calls.ts";
import { SharedHeap } from "./heap.ts";
import { compileKernels } from "./kernels_module.ts";
import { pad8 } from "./pack.ts";
import { KernelPool } from "./pool.ts";
import { packStreamed } from "./streamed.ts";

const heap = new SharedHeap(
  new WebAssembly.Memory({ initial: 32, maximum: 1024, shared: true }),
  0,
);
const pool = await KernelPool.start(await compileKernels(), heap, { threads: 2 });
const calls = new KernelCalls(pool, { heap, checkpointWork: 1024 });

/** Where element (k, c) of a [rows, cols] matrix goes: panels of 8 columns, or padded rows. */
function position(k: number, c: number, shape: { rows: number; cols: number; panels: boolean }) {
  return shape.panels ? ((c >> 3) * shape.rows + k) * 8 + (c & 7) : k * pad8(shape.cols) + c;
}

const GUARD = 64;

for (const precision of ["bf16", "f16"] as const) {
  Deno.test(`packStreamed (${precision}): kernels' layouts, exact values, nothing past the end`, async () => {
    const back = precision === "bf16" ? bf16ToF32 : f16ToF32;
    for (const [rows, cols] of [[1, 1], [3, 5], [7, 24], [33, 17], [5, 130], [64, 8]]) {
      for (const panels of [true, false]) {
        for (const chunkBytes of [1, 300, 4 << 20]) {
          const shape = { rows, cols, panels };
          // Halves of small integers: exact in bf16 and f16, so conversion is exact.
          const data = Float32Array.from({ length: rows * cols }, (_, i) => ((i * 7) % 23) / 2 - 5);
          const m = matrix([rows, cols], data);
          const count = rows * pad8(cols);
          const dst = heap.alloc(count * 2 + GUARD);
          const guard = heap.u16(dst + count * 2, GUARD / 2);
          guard.fill(0xbeef);
          const before = heap.allocatedBytes;
          try {
            const overflow = await calls.call(
              undefined,
              (ctx) => packStreamed(ctx, m, { dst, precision, panels, chunkBytes }),
            );
            assert.equal(overflow, 0);
            assert.equal(heap.allocatedBytes, before, "the scratch was freed");
            const out = heap.u16(dst, count);
            const want = new Float32Array(count);
            for (let k = 0; k < rows; k++) {
              for (let c = 0; c < cols; c++) want[position(k, c, shape)] = data[k * cols + c];
            }
            const got = Float32Array.from(out, back);
            assert.deepEqual(got, want, `${rows}x${cols} panels=${panels} chunk=${chunkBytes}`);
            assert.ok(guard.every((g) => g === 0xbeef), "nothing written past the destination");
          } finally {
            heap.free(dst);
          }
        }
      }
    }
  });
}

Deno.test("packStreamed (f16): values beyond f16 are counted", async () => {
  const m = matrix([4, 9], Float32Array.from({ length: 36 }, (_, i) => (i % 5 === 0 ? 1e6 : i)));
  const dst = heap.alloc(4 * 16 * 2);
  try {
    const overflow = await calls.call(
      undefined,
      (ctx) => packStreamed(ctx, m, { dst, precision: "f16", panels: true, chunkBytes: 200 }),
    );
    assert.equal(overflow, 8);
  } finally {
    heap.free(dst);
  }
});

Deno.test("streamed: close the pool (last test)", () => pool.close());
