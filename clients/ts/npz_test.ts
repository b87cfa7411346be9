import assert from "node:assert/strict";
import { encodeNpz } from "../../domain/io/npz.ts";
import { decodeNpy, decodeNpyInt32 } from "./npy.ts";
import { crc32, decodeNpz } from "./npz.ts";

const f32 = Float32Array.from({ length: 3 * 5 }, (_, i) => Math.sin(i) * 1e3);
// Latent indices past 2^24, which a float32 could not hold exactly.
const i32 = Int32Array.from({ length: 3 * 4 }, (_, i) => (i % 5 === 0 ? -1 : 16_777_217 + i * 997));

Deno.test("decodeNpz reads the service's .npz: stored, deflated and ZIP64; int32 exact", async () => {
  for (
    const options of [{}, { compress: true }, { zip64: true }, { compress: true, zip64: true }]
  ) {
    const bytes = await encodeNpz({
      values: { shape: [3, 5], data: f32 },
      indices: { shape: [3, 4], data: i32 },
      empty: { shape: [2, 0], data: new Float32Array(0) },
    }, options);
    const members = await decodeNpz(bytes);
    assert.deepEqual([...members.keys()].sort(), ["empty", "indices", "values"]);
    assert.deepEqual(decodeNpy(members.get("values")!), { data: f32, rows: 3, cols: 5 });
    assert.deepEqual(decodeNpyInt32(members.get("indices")!), { data: i32, rows: 3, cols: 4 });
    const empty = decodeNpy(members.get("empty")!);
    assert.deepEqual([empty.rows, empty.cols, empty.data.length], [2, 0, 0]);
  }
  const floats = await decodeNpz(await encodeNpz({ v: { shape: [1], data: f32.subarray(0, 1) } }));
  assert.throws(() => decodeNpyInt32(floats.get("v")!), /expected an int32/);
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
    const members = await decodeNpz(out.stdout);
    const a = decodeNpy(members.get("a")!);
    assert.deepEqual([a.rows, a.cols], [3, 4]);
    assert.deepEqual(a.data, Float32Array.from({ length: 12 }, (_, i) => i / 7));
    assert.deepEqual(
      Array.from(decodeNpyInt32(members.get("b")!).data),
      Array.from({ length: 6 }, (_, i) => i * 1000003 - 5),
    );
    assert.deepEqual(decodeNpy(members.get("c")!), {
      data: Float32Array.of(1.5, -2.25),
      rows: 1,
      cols: 2,
    });
  }
});

/** `bytes` with a zip comment appended (the end record's comment length set to match). */
function withComment(bytes: Uint8Array, comment: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + comment.length);
  out.set(bytes);
  out.set(comment, bytes.length);
  new DataView(out.buffer).setUint16(bytes.length - 2, comment.length, true);
  return out;
}

Deno.test("decodeNpz finds the end record past a comment that holds its signature", async () => {
  const bytes = await encodeNpz({ values: { shape: [3, 5], data: f32 } });
  const comment = Uint8Array.from([0x50, 0x4b, 0x05, 0x06, ...new Array(30).fill(7)]);
  const members = await decodeNpz(withComment(bytes, comment));
  assert.deepEqual(decodeNpy(members.get("values")!).data, f32);
});

Deno.test("decodeNpz refuses a corrupt, cut-off or oversized .npz with a clear error", async () => {
  const bytes = await encodeNpz({ values: { shape: [3, 5], data: f32 } });
  const flipped = bytes.slice();
  flipped[100] ^= 1; // inside the member's data
  await assert.rejects(decodeNpz(flipped), /CRC/);
  await assert.rejects(decodeNpz(bytes.subarray(0, 60)), /not a readable \.npz/);
  await assert.rejects(decodeNpz(new TextEncoder().encode("{}")), /no end of central directory/);
  // A central directory that claims more entries than it holds.
  const more = bytes.slice();
  new DataView(more.buffer).setUint16(more.length - 12, 5, true);
  await assert.rejects(decodeNpz(more), /not a readable \.npz/);
  // A deflated member that inflates past the size its entry declares.
  const packed = await encodeNpz({ values: { shape: [3, 5], data: f32 } }, { compress: true });
  const view = new DataView(packed.buffer);
  const central = view.getUint32(packed.length - 6, true);
  view.setUint32(central + 24, 10, true);
  await assert.rejects(decodeNpz(packed), /inflates past its declared size/);
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});
