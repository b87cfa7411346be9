import assert from "node:assert/strict";
import type { Activation, SaeWeights } from "../../domain/sae/dictionary.ts";
import { matrix } from "../../domain/sae/matrix.ts";
import { uniformArray } from "../../domain/random.ts";
import { referenceBackend } from "../reference/mod.ts";
import { openDevice } from "./device.ts";
import { blockRows, encodeRows, MAX_GPU_K } from "./encode.ts";
import { GpuKernels } from "./kernels.ts";
import { releaseWeights, uploadWeights } from "./prepare.ts";

const opened = await openDevice().catch(() => null);
const ignore = !opened;

function weights(dIn: number, dSae: number, activation: Activation): SaeWeights {
  return {
    dIn,
    dSae,
    wEnc: matrix(dIn, dSae, uniformArray(dIn * dSae, 11, { scale: 0.3 })),
    wDec: matrix(dSae, dIn, uniformArray(dSae * dIn, 12)),
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
    const s = matrix(7, 20, uniformArray(140, 13));
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
  name: "encode: release the device (last test)",
  ignore,
  fn: () => opened!.device.destroy(),
});
