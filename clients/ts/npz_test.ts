import assert from "node:assert/strict";
import { encodeNpz } from "../../domain/io/npz.ts";
import { crc32, decodeNpz } from "./npz.ts";

const f32 = Float32Array.from({ length: 3 * 5 }, (_, i) => Math.sin(i) * 1e3);
const i32 = Int32Array.from({ length: 3 * 4 }, (_, i) => (i % 5 === 0 ? -1 : i * 997));

Deno.test("decodeNpz reads the service's .npz: stored, deflated and ZIP64", async () => {
  for (
    const options of [{}, { compress: true }, { zip64: true }, { compress: true, zip64: true }]
  ) {
    const bytes = await encodeNpz({
      values: { shape: [3, 5], data: f32 },
      indices: { shape: [3, 4], data: i32 },
      empty: { shape: [2, 0], data: new Float32Array(0) },
    }, options);
    const arrays = await decodeNpz(bytes);
    assert.deepEqual([...arrays.keys()].sort(), ["empty", "indices", "values"]);
    assert.deepEqual(arrays.get("values"), { data: f32, rows: 3, cols: 5 });
    const indices = arrays.get("indices")!;
    assert.deepEqual([indices.rows, indices.cols], [3, 4]);
    assert.deepEqual(Int32Array.from(indices.data), i32);
    assert.deepEqual([arrays.get("empty")!.rows, arrays.get("empty")!.cols], [2, 0]);
  }
});

Deno.test("decodeNpz reads numpy's np.savez and np.savez_compressed", async (t) => {
  const script = `
import io, sys, numpy as np
a = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
b = (np.arange(6, dtype=np.int32) * 1000003 - 5).reshape(2, 3)
c = np.array([1.5, -2.25], dtype=">f4")
buf = io.BytesIO()
(np.savez_compressed if sys.argv[1] == "1" else np.savez)(buf, a=a, b=b, c=c)
sys.stdout.buffer.write(buf.getvalue())`;
  for (const compressed of ["0", "1"]) {
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command("python3", { args: ["-c", script, compressed], stderr: "null" })
        .output();
    } catch {
      return void await t.step({ name: "needs python3 with numpy", ignore: true, fn: () => {} });
    }
    if (!out.success) {
      return void await t.step({ name: "needs numpy", ignore: true, fn: () => {} });
    }
    const arrays = await decodeNpz(out.stdout);
    const a = arrays.get("a")!;
    assert.deepEqual([a.rows, a.cols], [3, 4]);
    assert.deepEqual(a.data, Float32Array.from({ length: 12 }, (_, i) => i / 7));
    assert.deepEqual(
      Array.from(arrays.get("b")!.data),
      Array.from({ length: 6 }, (_, i) => i * 1000003 - 5),
    );
    assert.deepEqual(arrays.get("c"), { data: Float32Array.of(1.5, -2.25), rows: 1, cols: 2 });
  }
});

Deno.test("decodeNpz refuses a corrupt or cut-off .npz with a clear error", async () => {
  const bytes = await encodeNpz({ values: { shape: [3, 5], data: f32 } });
  const flipped = bytes.slice();
  flipped[100] ^= 1; // inside the member's data
  await assert.rejects(decodeNpz(flipped), /CRC/);
  await assert.rejects(decodeNpz(bytes.subarray(0, 60)), /not a readable \.npz/);
  await assert.rejects(decodeNpz(new TextEncoder().encode("{}")), /no end of central directory/);
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});
