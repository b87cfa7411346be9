import assert from "node:assert/strict";
import { matrix } from "../../domain/sae/matrix.ts";
import { uniformArray } from "../../domain/random.ts";
import { referenceBackend } from "../reference/mod.ts";
import { openDevice } from "./device.ts";
import { GpuKernels } from "./kernels.ts";

const opened = await openDevice().catch(() => null);
const ignore = !opened;

Deno.test({
  name: "GpuKernels.matmul matches the reference, B split in column chunks or not",
  ignore,
  async fn() {
    const reference = referenceBackend();
    const a = matrix([5, 24], uniformArray(120, 1));
    const b = matrix([24, 200], uniformArray(4800, 2));
    const bt = matrix([200, 24], uniformArray(4800, 3));
    // 24 * 4 bytes per column: 6 KiB holds 64 columns, so B is cut into 4 chunks.
    for (const maxBinding of [opened!.device.limits.maxStorageBufferBindingSize, 6 << 10]) {
      const kernels = new GpuKernels(opened!.device, { maxBinding, precision: "f32" });
      try {
        for (const [m, transposeB] of [[b, false], [bt, true]] as const) {
          const got = await kernels.matmul(a, m, { transposeB });
          const want = await reference.matmul(a, m, { transposeB });
          assert.equal(got.rows, 5);
          assert.equal(got.cols, 200);
          got.data.forEach((v, i) => assert.ok(Math.abs(v - want.data[i]) < 1e-4, `${i}`));
        }
        await assert.rejects(kernels.matmul(a, bt), RangeError);
      } finally {
        kernels.destroy();
      }
    }
  },
});

Deno.test({
  name: "kernels: release the device (last test)",
  ignore,
  fn: () => opened!.device.destroy(),
});
