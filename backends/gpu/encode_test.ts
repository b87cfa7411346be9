import assert from "node:assert/strict";
import type { Activation, SaeWeights } from "../../domain/sae/dictionary.ts";
import { matrix } from "../../domain/sae/matrix.ts";
import { uniformArray } from "../../domain/random.ts";
import { referenceBackend } from "../reference/mod.ts";
import { openDevice } from "./device.ts";
import { blockRows, encodeRows, MAX_GPU_K } from "./encode.ts";
import { MAX_PLAN_BYTES, MAX_PLANS } from "./kept_plans.ts";
import { GpuKernels } from "./kernels.ts";
import { releaseWeights, uploadWeights } from "./prepare.ts";
import { SKINNY_MAX_ROWS } from "./wgsl.ts";

const opened = await openDevice().catch(() => null);
const ignore = !opened;

function weights(dIn: number, dSae: number, activation: Activation): SaeWeights {
  return {
    dIn,
    dSae,
    wEnc: matrix([dIn, dSae], uniformArray(dIn * dSae, 11, { scale: 0.3 })),
    wDec: matrix([dSae, dIn], uniformArray(dSae * dIn, 12)),
    bDec: new Float32Array(dIn),
    preBias: null,
    activation,
    normalization: "none",
    wSkip: null,
  };
}

Deno.test("blockRows fits a block's dense scores in one binding, 1 to 65535 rows", () => {
  assert.equal(blockRows(1024, { maxBinding: 1 << 20 }), 256);
  assert.equal(blockRows(1 << 20, { maxBinding: 1 << 20 }), 1);
  assert.equal(blockRows(1, { maxBinding: 1 << 30 }), 65535);
});

Deno.test({
  name: "encodeRows: GPU selection (top <= MAX_GPU_K), read-back selection, groupmax, " +
    "tanh_relu and topk_signed agree with the reference, batches cut in blocks",
  ignore,
  async fn() {
    const reference = referenceBackend();
    // 600 latents * 4 bytes * 3 rows per block: a batch of 7 rows takes three blocks.
    const kernels = new GpuKernels(opened!.device, { maxBinding: 600 * 4 * 3, precision: "f32" });
    const s = matrix([7, 20], uniformArray(140, 13));
    const activations: Activation[] = [
      { kind: "relu", bEnc: uniformArray(600, 14, { scale: 0.1 }) },
      { kind: "groupmax", bEnc: uniformArray(600, 15, { scale: 0.1 }), k: 6 },
      { kind: "tanh_relu", bEnc: uniformArray(600, 16, { scale: 0.1 }) },
      { kind: "topk_signed", bEnc: uniformArray(600, 17, { scale: 0.1 }).map((v) => v - 3), k: 9 },
    ];
    try {
      for (const activation of activations) {
        const w = weights(20, 600, activation);
        const p = uploadWeights(kernels, w);
        const pr = await reference.prepare(w);
        for (const top of [5, MAX_GPU_K + 1, undefined]) {
          const got = await encodeRows(p, s, { top });
          const want = await reference.encode(pr, s, { top });
          assert.equal(got.indices.length, 7);
          for (let r = 0; r < 7; r++) {
            const what = `${activation.kind} top ${top} row ${r}`;
            assert.deepEqual([...got.indices[r]], [...want.indices[r]], what);
            got.values[r].forEach((v, j) => assert.ok(Math.abs(v - want.values[r][j]) < 1e-4));
          }
        }
        releaseWeights(p);
      }
    } finally {
      kernels.destroy();
    }
  },
});

Deno.test({
  name: "encodeRows keeps one plan per small shape: new rows, concurrent calls and other " +
    "widths agree with the reference; larger batches keep none; release frees them",
  ignore,
  async fn() {
    const reference = referenceBackend();
    const kernels = new GpuKernels(opened!.device, { maxBinding: 1 << 24, precision: "f32" });
    const w = weights(24, 2100, {
      kind: "topk",
      bEnc: uniformArray(2100, 18, { scale: 0.1 }),
      k: 7,
    });
    const p = uploadWeights(kernels, w);
    const pr = await reference.prepare(w);
    const check = async (rows: number, seed: number, top?: number) => {
      const s = matrix([rows, 24], uniformArray(rows * 24, seed));
      const [got, want] = [await encodeRows(p, s, { top }), await reference.encode(pr, s, { top })];
      for (let r = 0; r < rows; r++) {
        assert.deepEqual([...got.indices[r]], [...want.indices[r]], `seed ${seed} row ${r}`);
        got.values[r].forEach((v, j) => assert.ok(Math.abs(v - want.values[r][j]) < 1e-4));
      }
    };
    try {
      for (const seed of [1, 2, 3]) await check(1, seed); // the same plan, new rows each time
      assert.deepEqual([...p.plans.keys()], ["encode:1:7:1"]);
      await check(1, 4, 3);
      await check(SKINNY_MAX_ROWS, 5);
      assert.equal(p.plans.size, 3, "one per batch size and width");
      // Concurrent calls of one shape: the second records a plan of its own.
      const s = [6, 7, 8].map((seed) => matrix([1, 24], uniformArray(24, seed)));
      const got = await Promise.all(s.map((x) => encodeRows(p, x)));
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(got[i].indices[0], (await reference.encode(pr, s[i])).indices[0]);
      }
      assert.equal(p.plans.size, 3);
      await check(SKINNY_MAX_ROWS + 1, 9);
      assert.equal(p.plans.size, 3, "larger batches keep no plan");
      for (let rows = 2; rows < 2 + MAX_PLANS; rows++) await check(rows, 10 + rows);
      assert.equal(p.plans.size, MAX_PLANS, "at most MAX_PLANS kept");
      const kept = [...p.plans.values()].reduce((n, plan) => n + plan.bytes, 0);
      assert.ok(kept > 0 && kept <= MAX_PLAN_BYTES, `${kept} bytes kept`);
    } finally {
      releaseWeights(p);
      kernels.destroy();
    }
    assert.equal(p.plans.size, 0);
  },
});

Deno.test({
  name: "encode: release the device (last test)",
  ignore,
  fn: () => opened!.device.destroy(),
});
