import assert from "node:assert/strict";
import type { SaeWeights } from "../../domain/sae/dictionary.ts";
import { matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import { openDevice } from "./device.ts";
import { accumulateRows, decodeDense, decodeSparse, steerRows } from "./decode.ts";
import { GpuKernels } from "./kernels.ts";
import { releaseWeights, uploadWeights } from "./prepare.ts";

const opened = await openDevice().catch(() => null);
const ignore = !opened;

// 130 latents, W_dec row i = [i, 10 i]: every sum below is exact.
const D_SAE = 130;
const weights: SaeWeights = {
  dIn: 2,
  dSae: D_SAE,
  wEnc: matrix([2, D_SAE]),
  wDec: matrix(
    [D_SAE, 2],
    Float32Array.from({ length: 2 * D_SAE }, (_, i) => (i >> 1) * (i & 1 ? 10 : 1)),
  ),
  bDec: Float32Array.from([0.5, -0.5]),
  preBias: null,
  activation: { kind: "relu", bEnc: new Float32Array(D_SAE) },
  normalization: "none",
  wSkip: null,
};

const codes: SparseRows = {
  width: D_SAE,
  indices: [Int32Array.from([129, 1]), Int32Array.from([])],
  values: [Float32Array.from([2, -1]), Float32Array.from([])],
};

Deno.test({
  name: "decode of zero rows is an empty matrix, not a failed read-back",
  ignore,
  async fn() {
    const kernels = new GpuKernels(opened!.device, { maxBinding: 1 << 20, precision: "f32" });
    const p = uploadWeights(kernels, weights);
    try {
      const none: SparseRows = { width: D_SAE, indices: [], values: [] };
      const out = await decodeSparse(p, none);
      assert.deepEqual([out.rows, out.cols, out.data.length], [0, 2, 0]);
    } finally {
      releaseWeights(p);
      kernels.destroy();
    }
  },
});

Deno.test({
  name: "decode and steer sum scaled decoder rows onto b_dec or x, across decoder chunks",
  ignore,
  async fn() {
    // 8 bytes per decoder row: 512-byte bindings cut the decoder into chunks of 64 rows.
    for (const maxBinding of [1 << 20, 512]) {
      const kernels = new GpuKernels(opened!.device, { maxBinding, precision: "f32" });
      const p = uploadWeights(kernels, weights);
      try {
        assert.equal(p.decoder.length, maxBinding === 512 ? 3 : 1);
        assert.deepEqual([...(await decodeSparse(p, codes)).data], [257.5, 2569.5, 0.5, -0.5]);
        assert.deepEqual([...(await decodeSparse(p, codes, { bias: false })).data], [
          257,
          2570,
          0,
          0,
        ]);
        const dense = matrix([2, D_SAE]);
        dense.data[1] = -1;
        dense.data[129] = 2;
        assert.deepEqual([...(await decodeDense(p, dense)).data], [257.5, 2569.5, 0.5, -0.5]);
        const x = matrix([2, 2], Float32Array.from([1, 1, 7, 7]));
        const rowScale = Float32Array.from([0.5, 3]);
        assert.deepEqual([...(await steerRows(p, x, { deltas: codes, rowScale })).data], [
          129.5,
          1286,
          7,
          7,
        ]);
        const init = Float32Array.from([1, 2, 3, 4]);
        const scale = Float32Array.from([1, 1]);
        assert.deepEqual([...(await accumulateRows(p, codes, { init, scale })).data], [
          258,
          2572,
          3,
          4,
        ]);
      } finally {
        releaseWeights(p);
        kernels.destroy();
      }
    }
  },
});

Deno.test({
  name: "decode and steer of a few rows reuse one kept plan per rows and entry bucket",
  ignore,
  async fn() {
    const kernels = new GpuKernels(opened!.device, { maxBinding: 512, precision: "f32" });
    const p = uploadWeights(kernels, weights);
    try {
      // Row r of the answer: b_dec + sum of v * [i, 10 i]; entries 2, then 5 (one bucket of 8).
      for (const [ix, v] of [[[3, 100], [1, 2]], [[0, 5, 9, 64, 129], [1, 1, 1, 1, -1]]]) {
        const one: SparseRows = {
          width: D_SAE,
          indices: [Int32Array.from(ix)],
          values: [Float32Array.from(v)],
        };
        const sum = ix.reduce((n, i, j) => n + i * v[j], 0);
        assert.deepEqual([...(await decodeSparse(p, one)).data], [sum + 0.5, 10 * sum - 0.5]);
      }
      const x = matrix([1, 2], Float32Array.from([1, 1]));
      const deltas: SparseRows = {
        width: D_SAE,
        indices: [Int32Array.of(2)],
        values: [Float32Array.of(3)],
      };
      assert.deepEqual([...(await steerRows(p, x, { deltas })).data], [7, 61]);
      assert.deepEqual([...p.plans.keys()], ["accumulate:1:8"]);
      const many: SparseRows = {
        width: D_SAE,
        indices: [Int32Array.from({ length: 20 }, (_, i) => i)],
        values: [new Float32Array(20).fill(1)],
      };
      assert.deepEqual([...(await decodeSparse(p, many, { bias: false })).data], [190, 1900]);
      assert.deepEqual([...p.plans.keys()], ["accumulate:1:8", "accumulate:1:32"]);
    } finally {
      releaseWeights(p);
      kernels.destroy();
    }
    assert.equal(p.plans.size, 0);
  },
});

Deno.test({
  name: "accumulateRows refuses a feature index outside [0, d_sae)",
  ignore,
  async fn() {
    const kernels = new GpuKernels(opened!.device, { maxBinding: 1 << 20, precision: "f32" });
    const p = uploadWeights(kernels, weights);
    try {
      const bad = {
        width: D_SAE,
        indices: [Int32Array.from([D_SAE])],
        values: [Float32Array.from([1])],
      };
      await assert.rejects(decodeSparse(p, bad), RangeError);
    } finally {
      releaseWeights(p);
      kernels.destroy();
    }
  },
});

Deno.test({
  name: "decode: release the device (last test)",
  ignore,
  fn: () => opened!.device.destroy(),
});
