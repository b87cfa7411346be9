import assert from "node:assert/strict";
import { matrix } from "../../domain/sae/matrix.ts";
import { uniformArray } from "../../domain/random.ts";
import { activateRows } from "../../domain/sae/activation.ts";
import { KernelCalls } from "./calls.ts";
import { encodeFused, gemm } from "./gemm.ts";
import { SharedHeap } from "./heap.ts";
import { compileKernels } from "./kernels_module.ts";
import { copyPadded, packVector, pad8 } from "./pack.ts";
import { ACT, PREC } from "./params.ts";
import { KernelPool } from "./pool.ts";

const heap = new SharedHeap(
  new WebAssembly.Memory({ initial: 32, maximum: 4096, shared: true }),
  0,
);
const pool = await KernelPool.start(await compileKernels(), heap, { threads: 2 });
// A small checkpoint budget: every call stops and resumes inside its tiles.
const calls = new KernelCalls(pool, { heap, checkpointWork: 4096 });

/** B [k, n] row-major in the kernels' memory, rows padded to 8 (a valid GEMM operand). */
function operand(b: Float32Array, k: number, n: number) {
  const ptr = heap.alloc(k * pad8(n) * 4);
  copyPadded(heap, matrix([k, n], b), { ptr, ld: pad8(n) });
  return { ptr, bytes: k * pad8(n) * 4, ldb: pad8(n) * 4, panelStride: 32 };
}

/** a @ b in f64. */
function product(a: Float32Array, b: Float32Array, m: number, k: number, n: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < n; c++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += a[r * k + i] * b[i * n + c];
      out.push(s);
    }
  }
  return out;
}

Deno.test("gemm: C = A @ B over odd shapes, rows in blocks, resumed at checkpoints", async () => {
  const [m, k, n] = [13, 37, 21];
  const a = uniformArray(m * k, 1);
  const b = uniformArray(k * n, 2);
  const b1 = operand(b, k, n);
  try {
    const c = await calls.call(
      undefined,
      (ctx) => gemm(ctx, matrix([m, k], a), { b: b1, n, prec: PREC.f32 }),
    );
    const want = product(a, b, m, k, n);
    c.data.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-4, `${i}: ${v} vs ${want[i]}`));
  } finally {
    heap.free(b1.ptr);
  }
});

Deno.test("encodeFused: relu plus bias, at most `cap` per row, like the reference activation", async () => {
  const [m, k, n] = [5, 16, 300];
  const a = uniformArray(m * k, 3);
  const b = uniformArray(k * n, 4);
  const bias = uniformArray(n, 5, { scale: 0.2 });
  const encoder = operand(b, k, n);
  const biasPtr = packVector(heap, bias);
  try {
    for (const cap of [0, 7]) {
      const got = await calls.call(undefined, (ctx) =>
        encodeFused(ctx, matrix([m, k], a), {
          encoder,
          dSae: n,
          prec: PREC.f32,
          act: ACT.relu,
          cap,
          bias: biasPtr,
          thr: 0,
          bmag: 0,
        }));
      const pre = matrix([m, n], Float32Array.from(product(a, b, m, k, n)));
      const want = activateRows({ kind: "relu", bEnc: bias }, pre, { top: cap || undefined });
      for (let r = 0; r < m; r++) {
        assert.deepEqual([...got.indices[r]], [...want.indices[r]], `cap ${cap} row ${r}`);
      }
    }
  } finally {
    heap.free(encoder.ptr);
    heap.free(biasPtr);
  }
});

Deno.test("gemm: close the pool (last test)", () => pool.close());
