import assert from "node:assert/strict";
import { PRECISIONS } from "../../domain/precision.ts";
import { f32ToBf16, f32ToF16 } from "../../domain/io/dtype.ts";
import { storage, uniform, upload } from "./buffers.ts";
import { openDevice } from "./device.ts";
import { dispatch, pipeline, submit } from "./passes.ts";
import { decodeShader, gemmShader, SELECT, skinnyShader } from "./wgsl.ts";

const opened = await openDevice().catch(() => null);
const ignore = !opened;

const SHADERS = PRECISIONS.flatMap((precision) => [
  { name: `gemm ${precision}`, code: gemmShader(precision), precision },
  { name: `skinny ${precision}`, code: skinnyShader(precision), precision },
  { name: `decode ${precision}`, code: decodeShader(precision), precision },
]);

Deno.test("every shader has a compute entry point main and no placeholder left", () => {
  for (const { name, code } of [...SHADERS, { name: "select", code: SELECT }]) {
    assert.match(code, /@compute @workgroup_size\([0-9, ]+\)\s*fn main\(/, name);
    assert.doesNotMatch(code, /WEIGHTS_[BW]/, name);
  }
});

Deno.test("weights are f32 arrays, or u32 words unpacked per precision", () => {
  for (const { name, code, precision } of SHADERS) {
    const array = /var<storage, read> ([BW]): array<(f32|u32)>;/.exec(code);
    assert.ok(array, name);
    assert.equal(array[2], precision === "f32" ? "f32" : "u32", name);
    assert.match(code, new RegExp(`fn load${array[1]}\\(i: u32\\) -> f32`), name);
    if (precision === "f16") assert.match(code, /unpack2x16float\(w\)\[i & 1u\]/, name);
    if (precision === "bf16") assert.match(code, /bitcast<f32>\(w << 16u\)/, name);
  }
});

Deno.test({
  name: "every shader compiles without errors on this adapter",
  ignore,
  async fn() {
    const device = opened!.device;
    for (const { name, code } of [...SHADERS, { name: "select", code: SELECT }]) {
      const info = await device.createShaderModule({ code }).getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === "error");
      assert.deepEqual(errors.map((m) => m.message), [], name);
    }
  },
});

Deno.test({
  name: "the decode shader unpacks bf16 and f16 words (even element in the low half)",
  ignore,
  async fn() {
    const device = opened!.device;
    const row = [1.5, -2, 0.25, 3];
    for (const precision of PRECISIONS) {
      const w = precision === "f32"
        ? Float32Array.from(row)
        : Uint16Array.from(row, precision === "f16" ? f32ToF16 : f32ToBf16);
      const buffers = [
        upload(device, w),
        upload(device, Int32Array.from([0])),
        upload(device, Float32Array.from([2])),
        upload(device, Float32Array.from([1])),
        storage(device, 16),
        uniform(device, [1, 4, 1, 0, 1, 4]),
      ];
      try {
        const [out] = await submit(device, (recording) => {
          dispatch(recording, pipeline(device, decodeShader(precision)), {
            buffers,
            groups: [1, 1],
          });
          return [{ buffer: buffers[4], bytes: 16 }];
        });
        assert.deepEqual([...new Float32Array(out)], row.map((v) => 2 * v), precision);
      } finally {
        for (const b of buffers) b.destroy();
      }
    }
  },
});

Deno.test({
  name: "wgsl: release the device (last test)",
  ignore,
  fn: () => opened!.device.destroy(),
});
