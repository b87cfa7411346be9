import assert from "node:assert/strict";
import { matrix } from "../../domain/sae/matrix.ts";
import { bf16ToF32, f16ToF32 } from "../../domain/io/dtype.ts";
import { KernelCalls } from "./calls.ts";
import { SharedHeap } from "./heap.ts";
import { compileKernels } from "./kernels_module.ts";
import { KernelPool } from "./pool.ts";
import { compactInPlace, transposeBlocks, transposeInto } from "./relayout.ts";

const heap = new SharedHeap(
  new WebAssembly.Memory({ initial: 32, maximum: 1024, shared: true }),
  0,
);
const pool = await KernelPool.start(await compileKernels(), heap, { threads: 2 });
// A small budget: the block transpose and compaction take several rounds.
const calls = new KernelCalls(pool, { heap, checkpointWork: 1024 });

Deno.test("transposeBlocks turns row-major [K, 8 * cols] into panels of 8 columns, in place", async () => {
  const [rows, cols] = [37, 5]; // 37 x 40 floats
  const n = rows * cols * 8;
  const ptr = heap.alloc(n * 4);
  const data = heap.f32(ptr, n);
  for (let i = 0; i < n; i++) data[i] = i;
  try {
    await calls.call(undefined, (ctx) => transposeBlocks(ctx, ptr, { rows, cols }));
    const out = heap.f32(ptr, n);
    for (let p = 0; p < cols; p++) {
      for (let k = 0; k < rows; k++) {
        for (let j = 0; j < 8; j++) {
          assert.equal(out[(p * rows + k) * 8 + j], k * cols * 8 + p * 8 + j);
        }
      }
    }
  } finally {
    heap.free(ptr);
  }
});

Deno.test("compactInPlace writes bf16 / f16 halves at the same index and counts f16 overflows", async () => {
  const values = Float32Array.from({ length: 20000 }, (_, i) => (i % 7) - 3.25);
  values[5] = 1e6; // beyond f16
  for (const precision of ["bf16", "f16"] as const) {
    const ptr = heap.alloc(values.length * 4);
    heap.f32(ptr, values.length).set(values);
    try {
      const overflow = await calls.call(
        undefined,
        (ctx) => compactInPlace(ctx, ptr, { count: values.length, precision }),
      );
      assert.equal(overflow, precision === "f16" ? 1 : 0);
      const halves = heap.u16(ptr, values.length);
      const back = precision === "f16" ? f16ToF32 : bf16ToF32;
      for (let i = 0; i < values.length; i++) {
        if (i === 5) continue;
        assert.equal(back(halves[i]), values[i], `${precision} ${i}`);
      }
      assert.equal(back(halves[5]), precision === "f16" ? Infinity : 999424);
    } finally {
      heap.free(ptr);
    }
  }
});

Deno.test("transposeInto writes src^T with rows ldd floats apart", async () => {
  const src = matrix([3, 4], Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
  const dst = heap.alloc(4 * 8 * 4);
  heap.f32(dst, 32).fill(0);
  try {
    await calls.call(undefined, (ctx) => transposeInto(ctx, src, { dst, ldd: 8 }));
    const out = heap.f32(dst, 32);
    for (let c = 0; c < 4; c++) {
      assert.deepEqual([...out.subarray(c * 8, c * 8 + 3)], [1 + c, 5 + c, 9 + c]);
    }
  } finally {
    heap.free(dst);
  }
});

Deno.test("relayout: close the pool (last test)", () => pool.close());
