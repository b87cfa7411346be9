/**
 * The GGUF test reader on hand-made files: every metadata type, nested arrays and non-F32
 * tensors (also against the independent Python reader), hostile inputs reported as
 * FormatErrors, and a seeded mutation fuzz.
 * @module
 */

import assert from "node:assert/strict";
import { FormatError, SaeError } from "../domain/errors.ts";
import { encodeControlVector } from "../domain/io/gguf.ts";
import { type GgufValue, readGguf } from "./gguf_reader.ts";
import {
  allTypesFile,
  assertSameAsPython,
  build,
  f32Bytes,
  info,
  kvU32,
  readWithPython,
  smallDirections,
  W,
} from "./gguf_fixtures.ts";
import { mutate as mutateWith, rng } from "./fuzz.ts";

const enc = new TextEncoder();

Deno.test("gguf: readGguf decodes every metadata type, nested arrays and non-F32 tensors", () => {
  const file = readGguf(allTypesFile());
  const m = file.metadata;
  const expected: [string, GgufValue][] = [
    ["t.u8", { type: "uint8", value: 250 }],
    ["t.i8", { type: "int8", value: -7 }],
    ["t.u16", { type: "uint16", value: 65000 }],
    ["t.i16", { type: "int16", value: -32000 }],
    ["t.u32", { type: "uint32", value: 4_000_000_000 }],
    ["t.i32", { type: "int32", value: -2_000_000_000 }],
    ["t.f32", { type: "float32", value: Math.fround(0.1) }],
    ["t.bool", { type: "bool", value: true }],
    ["t.str", { type: "string", value: "héllo ✓" }],
    ["t.u64", { type: "uint64", value: 2n ** 60n }],
    ["t.i64", { type: "int64", value: -(2n ** 62n) }],
    ["t.f64", { type: "float64", value: Math.PI }],
    ["t.arr_u32", {
      type: "array",
      itemType: "uint32",
      value: [1, 2, 3].map((value) => ({ type: "uint32", value })),
    }],
    ["t.arr_str", {
      type: "array",
      itemType: "string",
      value: [{ type: "string", value: "a" }, { type: "string", value: "" }],
    }],
    ["t.arr_empty", { type: "array", itemType: "float32", value: [] }],
    ["t.arr_nested", {
      type: "array",
      itemType: "array",
      value: [
        {
          type: "array",
          itemType: "bool",
          value: [{ type: "bool", value: true }, { type: "bool", value: false }],
        },
        { type: "array", itemType: "int32", value: [{ type: "int32", value: -5 }] },
      ],
    }],
    ["general.alignment", { type: "uint32", value: 64 }],
  ];
  assert.deepEqual([...m], expected);
  assert.equal(file.alignment, 64);
  assert.equal(file.dataOffset % 64, 0);
  const [w, h, q, empty] = file.tensors;
  assert.deepEqual(w.shape, [2, 2]);
  assert.deepEqual(w.data, Float32Array.of(1.5, -2, 3.25, 0));
  assert.deepEqual({ ...h, offset: h.offset - file.dataOffset }, {
    name: "h",
    shape: [2],
    type: 1,
    offset: 64,
    byteLength: 4,
  });
  assert.equal(h.data, undefined, "non-F32 tensors carry no decoded data");
  assert.equal(q.byteLength, 34, "Q8_0: one 32-element block of 34 bytes");
  assert.deepEqual(empty.data, new Float32Array(0));
});

Deno.test("gguf: the Python reader agrees on every metadata type and nested arrays", async () => {
  const bytes = allTypesFile();
  assertSameAsPython(readGguf(bytes), await readWithPython(bytes));
});

// --- (d) hostile inputs ----------------------------------------------------------------------

function rejects(bytes: Uint8Array, pattern: RegExp, options?: { maxTensors?: number }): void {
  assert.throws(() => readGguf(bytes, options), (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected a FormatError, got ${e}`);
    assert.match(e.message, /^gguf: /);
    assert.match(e.message, pattern);
    return true;
  });
}

const oneTensor = (offset: number | bigint, shape: (number | bigint)[] = [4], type = 0) =>
  build({ infos: [info("x", { shape, type, offset })], data: f32Bytes([1, 2, 3, 4]) });

Deno.test("gguf: every truncation short of the last tensor's data is a FormatError", () => {
  const bytes = encodeControlVector(smallDirections(), { modelHint: "gemma2" });
  const end = 256 + 32 + 12; // last tensor's last byte; only trailing padding follows
  for (let n = 0; n < end; n++) rejects(bytes.subarray(0, n), /./);
  for (let n = end; n <= bytes.length; n++) readGguf(bytes.subarray(0, n));
});

Deno.test("gguf: bad magic and unsupported versions are FormatErrors", () => {
  rejects(build({ magic: "GGUG" }), /magic/);
  rejects(new Uint8Array(0), /magic/);
  for (const version of [0, 1, 4]) rejects(build({ version }), /unsupported version/);
  rejects(build({ version: 0x03000000 }), /big-endian/);
  assert.equal(readGguf(build({ version: 2 })).version, 2);
});

Deno.test("gguf: huge or impossible counts are FormatErrors, not allocations", () => {
  rejects(build({ tensorCount: 2n ** 64n - 1n }), /tensor count/);
  rejects(build({ kvCount: 2n ** 40n }), /limit/);
  rejects(build({ kvCount: 1000 }), /cannot fit/);
  rejects(build({ tensorCount: 3 }), /cannot fit/);
  rejects(build({ tensorCount: 3 }), /over the limit of 2/, { maxTensors: 2 });
  rejects(build({ kvs: [(w) => w.str("a").u32(9).u32(0).u64(2n ** 62n)] }), /too large/);
  rejects(build({ kvs: [(w) => w.str("a").u32(9).u32(0).u64(2n ** 50n)] }), /items/);
  rejects(build({ kvs: [(w) => w.str("a").u32(9).u32(8).u64(1000).u64(0)] }), /items/);
});

Deno.test("gguf: string lengths past the end are FormatErrors", () => {
  rejects(build({ kvs: [(w) => w.u64(2n ** 63n).u64(0)] }), /too large/);
  rejects(build({ kvs: [(w) => w.u64(10_000).bytes(enc.encode("general"))] }), /needs 10000/);
  rejects(build({ kvs: [(w) => w.str("k").u32(8).u64(1 << 20)] }), /bytes left|needs/);
  rejects(build({ infos: [(w) => w.u64(40).bytes(enc.encode("x"))] }), /needs|limit/);
});

Deno.test("gguf: misaligned, out-of-range and overlapping tensor offsets are FormatErrors", () => {
  assert.deepEqual(readGguf(oneTensor(0)).tensors[0].data, Float32Array.of(1, 2, 3, 4));
  rejects(oneTensor(4), /not a multiple of 32/);
  rejects(oneTensor(32), /past the end/);
  rejects(oneTensor(1 << 20), /past the end/);
  rejects(oneTensor(2n ** 63n), /too large/);
  rejects(oneTensor(0, [8]), /past the end/);
  const two = build({
    infos: [
      info("a", { shape: [16], type: 0, offset: 0 }),
      info("b", { shape: [4], type: 0, offset: 32 }),
    ],
    data: new Uint8Array(64),
  });
  rejects(two, /overlap/);
  rejects(
    build({ tensorCount: 1, infos: [info("x", { shape: [1], type: 0, offset: 0 })] }),
    /past the end/,
  );
});

Deno.test("gguf: malformed metadata and tensor infos are FormatErrors", () => {
  rejects(build({ kvs: [(w) => w.str("a").u32(13).u32(0)] }), /unknown value type 13/);
  rejects(build({ kvs: [(w) => w.str("a").u32(9).u32(77).u64(0)] }), /unknown value type 77/);
  rejects(build({ kvs: [(w) => w.str("a").u32(7).u8(2)] }), /bool/);
  rejects(build({ kvs: [kvU32("a", 1), kvU32("a", 2)] }), /duplicate metadata key/);
  rejects(build({ kvs: [kvU32("", 1)] }), /empty/);
  rejects(build({ kvs: [(w) => w.str(Uint8Array.of(0xff, 0xfe)).u32(4).u32(1)] }), /UTF-8/);
  rejects(build({ kvs: [(w) => w.str("general.alignment").u32(5).i32(32)] }), /uint32/);
  rejects(build({ kvs: [kvU32("general.alignment", 48)] }), /power of 2/);
  rejects(build({ kvs: [kvU32("general.alignment", 0)] }), /power of 2/);
  const deep = new W().str("deep").u32(9);
  for (let i = 0; i < 10_000; i++) deep.u32(9).u64(1);
  deep.u32(0).u64(0);
  rejects(build({ kvs: [(w) => w.bytes(deep.done())] }), /nested deeper/);

  const data = new Uint8Array(64);
  rejects(
    build({
      infos: [
        info("x", { shape: [1], type: 0, offset: 0 }),
        info("x", { shape: [1], type: 0, offset: 32 }),
      ],
      data,
    }),
    /duplicate/,
  );
  rejects(
    build({ infos: [info("x".repeat(65), { shape: [1], type: 0, offset: 0 })], data }),
    /limit/,
  );
  rejects(
    build({ infos: [info("x", { shape: [1, 1, 1, 1, 1], type: 0, offset: 0 })], data }),
    /5 dimensions/,
  );
  rejects(
    build({ infos: [info("x", { shape: [2n ** 40n, 2n ** 40n], type: 0, offset: 0 })], data }),
    /too many elements/,
  );
  rejects(
    build({ infos: [info("x", { shape: [4], type: 99, offset: 0 })], data }),
    /unknown ggml type 99/,
  );
  rejects(
    build({ infos: [info("x", { shape: [16], type: 2, offset: 0 })], data }),
    /multiple of 32/,
  );
});

const mutate = (bytes: Uint8Array, random: () => number) =>
  mutateWith(bytes, random, {
    truncate: 0.15,
    extend: 0.2,
    header: { bytes: 300, share: 0.8 },
    specials: [0, 0xff, 0x7f, 0x80],
  });

const FUZZ_N = 500;

for (
  const [what, seed, valid] of [
    ["a control vector", 11, () => encodeControlVector(smallDirections(), { modelHint: "gemma2" })],
    ["the all-types file", 12, allTypesFile],
  ] as const
) {
  Deno.test(`gguf fuzz: ${FUZZ_N} mutants of ${what} parse or fail with a SaeError`, () => {
    const random = rng(seed);
    const bytes = valid();
    const outcomes = { ok: 0, rejected: 0 };
    for (let i = 0; i < FUZZ_N; i++) {
      const mutant = mutate(bytes, random);
      try {
        readGguf(mutant);
        outcomes.ok++;
      } catch (e) {
        if (!(e instanceof SaeError)) {
          assert.fail(`mutant ${i}: threw a non-SaeError ${e instanceof Error ? e.stack : e}`);
        }
        outcomes.rejected++;
      }
    }
    assert.ok(outcomes.rejected > FUZZ_N / 4, `mutants rejected: ${JSON.stringify(outcomes)}`);
    assert.ok(outcomes.ok > 0, `some mutants still parse: ${JSON.stringify(outcomes)}`);
  });
}
