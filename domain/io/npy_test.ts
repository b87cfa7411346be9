import assert from "node:assert/strict";
import { decodeNpy, decodeNpyInt, encodeNpy, parseNpyHeader, readNpyStream } from "./npy.ts";
import { SaeError } from "../errors.ts";

const DIR = new URL("../../tests/fixtures/formats/", import.meta.url);
const expected = JSON.parse(Deno.readTextFileSync(new URL("expected.json", DIR)));
const read = (name: string) => Deno.readFileSync(new URL(name, DIR));

function assertValues(actual: ArrayLike<number>, values: number[], tol: number, what: string) {
  assert.equal(actual.length, values.length, what);
  for (let i = 0; i < values.length; i++) {
    assert.ok(
      Math.abs(actual[i] - values[i]) <= tol * Math.max(1, Math.abs(values[i])),
      `${what}[${i}]`,
    );
  }
}

function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

const floatFiles = Object.keys(expected).filter((n) => n.startsWith("f"));

for (const name of floatFiles) {
  Deno.test(`npy: ${name} written by numpy decodes to numpy's values in C order`, () => {
    const t = decodeNpy(read(name));
    assert.deepEqual([...t.shape], expected[name].shape);
    assertValues(t.data, expected[name].values, 0, name);
  });
  Deno.test(`npy: ${name} streamed in 7-byte chunks decodes the same`, async () => {
    const t = await readNpyStream(chunked(read(name), 7), { maxBytes: 1 << 20 });
    assert.deepEqual([...t.shape], expected[name].shape);
    assertValues(t.data, expected[name].values, 0, name);
  });
}

Deno.test("npy: header fields of a big-endian fortran v2 file", () => {
  const h = parseNpyHeader(read("f32_be_fortran_v2.npy"));
  assert.equal(h.version, 2);
  assert.equal(h.littleEndian, false);
  assert.equal(h.fortranOrder, true);
  assert.equal(h.dtype, "F32");
  assert.deepEqual([...h.shape], [3, 5]);
  assert.equal(h.dataOffset % 64, 0);
});

Deno.test("npy: integer index arrays (i64, big-endian i32) decode to i32", () => {
  const a = decodeNpyInt(read("i64_indices.npy"));
  assert.deepEqual([...a.shape], [2, 3]);
  assert.deepEqual([...a.data], [3, 1, 4, 1, 5, 9]);
  assert.deepEqual([...decodeNpyInt(read("i32_be_indices.npy")).data], [7, -2, 0]);
});

Deno.test("npy: encodeNpy round-trips f32, f16, f64 and i32 with a 64-byte aligned header", () => {
  const data = Float32Array.from([1.5, -2, 0.1, 65504, 1e-3, 3]);
  for (const dtype of ["F32", "F64"] as const) {
    const bytes = encodeNpy(data, [2, 3], { dtype });
    assert.equal(parseNpyHeader(bytes).dataOffset % 64, 0);
    assert.deepEqual(decodeNpy(bytes).data, data);
  }
  const half = decodeNpy(encodeNpy(data, [6], { dtype: "F16" })).data;
  assert.equal(half[0], 1.5);
  assert.equal(half[3], 65504);
  assert.ok(Math.abs(half[2] - 0.1) < 1e-4);
  assert.deepEqual(
    decodeNpyInt(encodeNpy(Int32Array.from([1, -1, 7]), [3])).data,
    Int32Array.from([1, -1, 7]),
  );
});

function rejects(bytes: Uint8Array, kind: string, pattern: RegExp) {
  assert.throws(
    () => decodeNpy(bytes),
    (e: unknown) => e instanceof SaeError && e.kind === kind && pattern.test(e.message),
  );
}

function withHeader(dict: string): Uint8Array {
  const text = dict + "\n";
  const out = new Uint8Array(10 + text.length + 16);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, text.length, true);
  for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i);
  return out;
}

Deno.test("npy: hostile headers are rejected with a clear FormatError, never a crash", () => {
  rejects(new Uint8Array([1, 2, 3]), "malformed", /magic/);
  rejects(
    withHeader("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }"),
    "invalid",
    /not supported/,
  );
  rejects(
    withHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"),
    "invalid",
    /structured \(record\) type; send float/,
  );
  rejects(
    withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"),
    "malformed",
    /needs 8 data bytes, found 16/,
  );
  rejects(
    withHeader(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999, 99999999, 99999999), }",
    ),
    "invalid",
    /too large/,
  );
  rejects(
    withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"),
    "malformed",
    /non-negative/,
  );
  rejects(withHeader("{'descr': '<f4', 'shape': (4,), }"), "malformed", /fortran_order/);
  rejects(
    withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}"),
    "malformed",
    /header/,
  );
  const v2 = new Uint8Array(16);
  v2.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]);
  new DataView(v2.buffer).setUint32(8, 0xfffffff0, true);
  rejects(v2, "malformed", /over the/);
  const truncated = read("f32_le_v1.npy").slice(0, 100);
  rejects(truncated, "malformed", /truncated|found/);
});

Deno.test("npy: maxBytes bounds the declared data size before allocating", () => {
  assert.throws(() => decodeNpy(read("f32_le_v1.npy"), { maxBytes: 10 }), /over the 10-byte limit/);
});
