import assert from "node:assert/strict";
import { SaeError } from "../../domain/errors.ts";
import { bf16ToF32, f16ToF32 } from "../../domain/io/dtype.ts";
import { bufferSize, storage, storedMatrix, upload } from "./buffers.ts";
import { openDevice } from "./device.ts";
import { submit } from "./passes.ts";

const opened = await openDevice().catch(() => null);
const ignore = !opened;

Deno.test("bufferSize rounds up to 16 bytes, at least 16", () => {
  assert.deepEqual([0, 1, 16, 17, 100].map(bufferSize), [16, 16, 16, 32, 112]);
});

Deno.test("storedMatrix keeps f32 as is", () => {
  const data = Float32Array.from([1, 2, 3]);
  const out = storedMatrix(data, { rows: 1, cols: 3, precision: "f32" });
  assert.equal(out.array, data);
  assert.equal(out.ld, 3);
});

Deno.test("storedMatrix packs bf16 and f16 rows padded to an even length", () => {
  const data = Float32Array.from([1.5, -2, 0.25, 3, 65504, -0.125]); // 2 x 3
  const cases = [
    { precision: "bf16", back: bf16ToF32, want: [1.5, -2, 0.25, 0, 3, 65536, -0.125, 0] },
    { precision: "f16", back: f16ToF32, want: [1.5, -2, 0.25, 0, 3, 65504, -0.125, 0] },
  ] as const;
  for (const { precision, back, want } of cases) {
    const { array, ld } = storedMatrix(data, { rows: 2, cols: 3, precision });
    assert.equal(ld, 4);
    assert.ok(array instanceof Uint16Array);
    assert.deepEqual([...array].map(back), want, precision);
    assert.equal(array[3], 0, "padding is zero bits");
  }
});

Deno.test("storedMatrix refuses weights beyond the f16 range", () => {
  assert.throws(
    () => storedMatrix(Float32Array.from([70000]), { rows: 1, cols: 1, precision: "f16" }),
    (e) => e instanceof SaeError && e.kind === "unavailable",
  );
});

Deno.test({
  name: "upload and storage: data (odd byte length included) reads back intact",
  ignore,
  async fn() {
    const device = opened!.device;
    const data = Uint8Array.from([1, 2, 3, 4, 5, 6, 7]);
    const up = upload(device, data);
    const empty = storage(device, 8);
    try {
      const [got, zeros] = await submit(device, () => [
        { buffer: up, bytes: 7 },
        { buffer: empty, bytes: 8 },
      ]);
      assert.deepEqual([...new Uint8Array(got)], [1, 2, 3, 4, 5, 6, 7]);
      assert.deepEqual([...new Uint8Array(zeros)], new Array(8).fill(0));
    } finally {
      up.destroy();
      empty.destroy();
    }
  },
});

Deno.test({
  name: "buffers: release the device (last test)",
  ignore,
  fn: () => opened!.device.destroy(),
});
