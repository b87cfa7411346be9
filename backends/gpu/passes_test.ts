import assert from "node:assert/strict";
import { storage, uniform, upload } from "./buffers.ts";
import { openDevice } from "./device.ts";
import { dispatch, pipeline, submit } from "./passes.ts";

const opened = await openDevice().catch(() => null);
const ignore = !opened;

const TWICE = /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> n: vec4<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x < n.x) { dst[gid.x] = 2.0 * src[gid.x]; }
}
`;

Deno.test({
  name: "submit runs a dispatch and reads back each named buffer, its bytes only",
  ignore,
  async fn() {
    const device = opened!.device;
    const src = upload(device, Float32Array.from([1, 2, 3, 4, 5]));
    const dst = storage(device, 20);
    try {
      const temps: GPUBuffer[] = [];
      const [doubled, original] = await submit(device, (recording) => {
        const n = recording.temp(uniform(device, [5]));
        temps.push(n);
        dispatch(recording, pipeline(device, TWICE), { buffers: [src, dst, n], groups: [1, 1] });
        return [{ buffer: dst, bytes: 12 }, { buffer: src, bytes: 20 }];
      });
      assert.deepEqual([...new Float32Array(doubled)], [2, 4, 6]);
      assert.deepEqual([...new Float32Array(original)], [1, 2, 3, 4, 5]);
      assert.equal(temps.length, 1);
    } finally {
      src.destroy();
      dst.destroy();
    }
  },
});

Deno.test({
  name: "submit with nothing to read back waits for the work and resolves to []",
  ignore,
  async fn() {
    assert.deepEqual(await submit(opened!.device, () => []), []);
  },
});

Deno.test({
  name: "passes: release the device (last test)",
  ignore,
  fn: () => opened!.device.destroy(),
});
