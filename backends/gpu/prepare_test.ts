import assert from "node:assert/strict";
import type { SaeWeights } from "../../domain/sae/dictionary.ts";
import { matrix } from "../../domain/sae/matrix.ts";
import { uniformArray } from "../../domain/random.ts";
import { openDevice } from "./device.ts";
import { GpuKernels } from "./kernels.ts";
import { releaseWeights, uploadWeights } from "./prepare.ts";
import { SKINNY_COLUMNS } from "./wgsl.ts";

const opened = await openDevice().catch(() => null);
const ignore = !opened;

function weights(dIn: number, dSae: number): SaeWeights {
  return {
    dIn,
    dSae,
    wEnc: matrix([dIn, dSae], uniformArray(dIn * dSae, 1)),
    wDec: matrix([dSae, dIn], uniformArray(dSae * dIn, 2)),
    bDec: new Float32Array(dIn),
    preBias: null,
    activation: { kind: "relu", bEnc: uniformArray(dSae, 3) },
    normalization: "none",
    wSkip: null,
  };
}

Deno.test({
  name: "uploadWeights keeps an encoder chunk within the skinny GEMM's 65535 workgroups",
  ignore,
  fn() {
    // d_in 1: a 128 MiB binding would hold 33M columns; 65535 workgroups of 32 hold 2097120.
    const kernels = new GpuKernels(opened!.device, { maxBinding: 128 << 20, precision: "f32" });
    try {
      const p = uploadWeights(kernels, weights(1, 2_100_000));
      const widths = p.encoder.map((c) => c.span.end - c.span.start);
      assert.deepEqual(widths, [2_097_088, 2_912]);
      assert.ok(widths.every((w) => Math.ceil(w / SKINNY_COLUMNS) <= 65535));
      releaseWeights(p);
    } finally {
      kernels.destroy();
    }
  },
});

Deno.test({
  name: "uploadWeights cuts the encoder into whole GEMM tiles and the decoder into rows",
  ignore,
  fn() {
    // 16 values of d_in per column: 8 KiB holds 128 encoder columns or 128 decoder rows.
    const kernels = new GpuKernels(opened!.device, { maxBinding: 8 << 10, precision: "bf16" });
    try {
      const p = uploadWeights(kernels, weights(16, 300));
      assert.deepEqual(p.encoder.map((c) => [c.span.start, c.span.end, c.ld]), [
        [0, 128, 128],
        [128, 256, 128],
        [256, 300, 44],
      ]);
      assert.deepEqual(p.decoder.map((c) => [c.span.start, c.span.end, c.ld]), [
        [0, 128, 16],
        [128, 256, 16],
        [256, 300, 16],
      ]);
      assert.notEqual(p.epilogue.bias, kernels.dummy, "relu uploads b_enc");
      assert.equal(p.epilogue.thr, kernels.dummy, "relu has no threshold");
      assert.equal(p.buffers.length, 7);
      releaseWeights(p);
    } finally {
      kernels.destroy();
    }
  },
});

Deno.test({
  name: "uploadWeights pads odd rows of packed weights to an even length",
  ignore,
  fn() {
    const kernels = new GpuKernels(opened!.device, { maxBinding: 1 << 20, precision: "f16" });
    try {
      const p = uploadWeights(kernels, weights(7, 5));
      assert.deepEqual(p.encoder.map((c) => c.ld), [6]);
      assert.deepEqual(p.decoder.map((c) => c.ld), [8]);
      releaseWeights(p);
    } finally {
      kernels.destroy();
    }
  },
});

Deno.test({
  name: "prepare: release the device (last test)",
  ignore,
  fn: () => opened!.device.destroy(),
});
