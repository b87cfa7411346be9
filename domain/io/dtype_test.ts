import assert from "node:assert/strict";
import {
  bf16ToF32,
  bytesToF32,
  f16ToF32,
  f32ToBf16,
  f32ToBytes,
  f32ToF16,
  streamToF32,
} from "./dtype.ts";

Deno.test("dtype: half-precision specials decode exactly", () => {
  assert.equal(f16ToF32(0x3c00), 1);
  assert.equal(f16ToF32(0xc000), -2);
  assert.equal(f16ToF32(0x7bff), 65504);
  assert.equal(f16ToF32(0x0001), 2 ** -24);
  assert.equal(f16ToF32(0x7c00), Infinity);
  assert.ok(Number.isNaN(f16ToF32(0x7e00)));
  assert.ok(Object.is(f16ToF32(0x8000), -0));
});

Deno.test("dtype: f32 -> f16 rounds to nearest even and round-trips every half", () => {
  for (let h = 0; h < 0x7c00; h++) assert.equal(f32ToF16(f16ToF32(h)), h, `half ${h}`);
  assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // exactly half-way: ties to even (down)
  assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02); // half-way: ties to even (up)
  assert.equal(f32ToF16(65520), 0x7c00); // overflow to infinity
  assert.equal(f32ToF16(2 ** -25), 0); // below half the smallest subnormal
});

Deno.test("dtype: bf16 is the top half of f32, rounded to nearest even", () => {
  assert.equal(bf16ToF32(0x3f80), 1);
  assert.equal(bf16ToF32(0xc040), -3);
  assert.equal(f32ToBf16(1), 0x3f80);
  assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80); // tie, even stays
  assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82); // tie, odd rounds up
  assert.ok(Number.isNaN(bf16ToF32(f32ToBf16(NaN))));
});

Deno.test("dtype: bytes round-trip for every dtype", () => {
  const data = Float32Array.from([0, 1, -2.5, 0.375, 1024]);
  for (const dtype of ["F32", "F16", "BF16", "F64"] as const) {
    assert.deepEqual(
      bytesToF32(f32ToBytes(data, dtype), { dtype, littleEndian: true }),
      data,
      dtype,
    );
  }
});

function chunks(bytes: Uint8Array, sizes: number[]): ReadableStream<Uint8Array> {
  let at = 0;
  let n = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      const size = sizes[n++ % sizes.length];
      c.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

Deno.test("dtype: streamToF32 reassembles elements split across chunk boundaries", async () => {
  const data = Float32Array.from({ length: 37 }, (_, i) => i * 0.25 - 3);
  for (const dtype of ["F32", "F16", "BF16", "F64"] as const) {
    for (const sizes of [[1], [3, 5], [7], [1000]]) {
      const out = await streamToF32(chunks(f32ToBytes(data, dtype), sizes), {
        dtype,
        littleEndian: true,
        count: 37,
      });
      assert.deepEqual(out, data, `${dtype} ${sizes}`);
    }
  }
});

Deno.test("dtype: streamToF32 with fortran scatters column-major input to row-major output", async () => {
  // Column-major [2, 3]: columns (1, 4), (2, 5), (3, 6).
  const stored = f32ToBytes(Float32Array.from([1, 4, 2, 5, 3, 6]), "F32");
  const out = await streamToF32(chunks(stored, [5]), {
    dtype: "F32",
    littleEndian: true,
    count: 6,
    fortran: { rows: 2, cols: 3 },
  });
  assert.deepEqual([...out], [1, 2, 3, 4, 5, 6]);
});

Deno.test("dtype: big-endian elements decode", () => {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setFloat32(0, 1.25, false);
  assert.deepEqual([...bytesToF32(bytes, { dtype: "F32", littleEndian: false })], [1.25]);
});

Deno.test("dtype: a short or long stream is a FormatError", async () => {
  const bytes = f32ToBytes(Float32Array.from([1, 2, 3]), "F32");
  await assert.rejects(
    streamToF32(chunks(bytes, [4]), { dtype: "F32", littleEndian: true, count: 4 }),
    /ended after 12 of 16/,
  );
  await assert.rejects(
    streamToF32(chunks(bytes, [4]), { dtype: "F32", littleEndian: true, count: 2 }),
    /more than/,
  );
  await assert.rejects(
    streamToF32(chunks(bytes.slice(0, 10), [3]), { dtype: "F32", littleEndian: true, count: 3 }),
    /ended/,
  );
});
