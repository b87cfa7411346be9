/**
 * GGUF: the control-vector writer's byte layout pinned field by field against the format,
 * round trips through readGguf, a cross-check with an independent Python reader
 * (tests/fixtures/read_gguf.py), hostile inputs and a seeded mutation fuzz of the reader, and
 * the writer's argument checks.
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { FormatError, SaeError } from "../errors.ts";
import {
  encodeControlVector,
  GGML_TYPE_F32,
  type GgufFile,
  type GgufValue,
  readGguf,
} from "./gguf.ts";
import { mutate as mutateWith, rng } from "../../tests/fuzz.ts";

const PY_READER = fileURLToPath(new URL("../../tests/fixtures/read_gguf.py", import.meta.url));
const enc = new TextEncoder();

/** A small control vector: layers 3 and 1 (inserted out of order), n_embd = 3. */
function smallDirections(): Map<number, Float32Array> {
  return new Map([
    [3, Float32Array.of(-0.5, 0.25, 8)],
    [1, Float32Array.of(1, 2, 3)],
  ]);
}

/** A little-endian byte builder for hand-made (and hand-broken) GGUF files. */
class W {
  #out: number[] = [];
  get length(): number {
    return this.#out.length;
  }
  #view(n: number, set: (v: DataView) => void): this {
    const b = new Uint8Array(n);
    set(new DataView(b.buffer));
    this.#out.push(...b);
    return this;
  }
  bytes(b: ArrayLike<number>): this {
    this.#out.push(...Array.from(b));
    return this;
  }
  u8(n: number): this {
    return this.#view(1, (v) => v.setUint8(0, n));
  }
  i8(n: number): this {
    return this.#view(1, (v) => v.setInt8(0, n));
  }
  u16(n: number): this {
    return this.#view(2, (v) => v.setUint16(0, n, true));
  }
  i16(n: number): this {
    return this.#view(2, (v) => v.setInt16(0, n, true));
  }
  u32(n: number): this {
    return this.#view(4, (v) => v.setUint32(0, n, true));
  }
  i32(n: number): this {
    return this.#view(4, (v) => v.setInt32(0, n, true));
  }
  f32(n: number): this {
    return this.#view(4, (v) => v.setFloat32(0, n, true));
  }
  u64(n: number | bigint): this {
    return this.#view(8, (v) => v.setBigUint64(0, BigInt(n), true));
  }
  i64(n: bigint): this {
    return this.#view(8, (v) => v.setBigInt64(0, n, true));
  }
  f64(n: number): this {
    return this.#view(8, (v) => v.setFloat64(0, n, true));
  }
  str(s: string | Uint8Array): this {
    const b = typeof s === "string" ? enc.encode(s) : s;
    return this.u64(b.length).bytes(b);
  }
  pad(alignment: number): this {
    while (this.#out.length % alignment !== 0) this.#out.push(0);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.#out);
  }
}

type Part = (w: W) => unknown;

/** Assemble a GGUF file from parts; counts default to the number of parts given. */
function build(o: {
  magic?: string;
  version?: number;
  tensorCount?: number | bigint;
  kvCount?: number | bigint;
  kvs?: Part[];
  infos?: Part[];
  alignment?: number;
  data?: ArrayLike<number>;
}): Uint8Array {
  const w = new W().bytes(enc.encode(o.magic ?? "GGUF")).u32(o.version ?? 3);
  w.u64(o.tensorCount ?? o.infos?.length ?? 0).u64(o.kvCount ?? o.kvs?.length ?? 0);
  for (const kv of o.kvs ?? []) kv(w);
  for (const info of o.infos ?? []) info(w);
  w.pad(o.alignment ?? 32);
  return w.bytes(o.data ?? []).done();
}

const kvStr = (key: string, value: string): Part => (w) => w.str(key).u32(8).str(value);
const kvU32 = (key: string, value: number): Part => (w) => w.str(key).u32(4).u32(value);
const info =
  (name: string, shape: (number | bigint)[], type: number, offset: number | bigint) => (w: W) => {
    w.str(name).u32(shape.length);
    for (const d of shape) w.u64(d);
    w.u32(type).u64(offset);
  };
const f32Bytes = (values: number[]): Uint8Array => {
  const w = new W();
  for (const v of values) w.f32(v);
  return w.done();
};

/** A hand-made file holding every metadata value type, nested arrays and non-F32 tensors. */
function allTypesFile(): Uint8Array {
  const kvs: Part[] = [
    (w) => w.str("t.u8").u32(0).u8(250),
    (w) => w.str("t.i8").u32(1).i8(-7),
    (w) => w.str("t.u16").u32(2).u16(65000),
    (w) => w.str("t.i16").u32(3).i16(-32000),
    (w) => w.str("t.u32").u32(4).u32(4_000_000_000),
    (w) => w.str("t.i32").u32(5).i32(-2_000_000_000),
    (w) => w.str("t.f32").u32(6).f32(0.1),
    (w) => w.str("t.bool").u32(7).u8(1),
    kvStr("t.str", "héllo ✓"),
    (w) => w.str("t.u64").u32(10).u64(2n ** 60n),
    (w) => w.str("t.i64").u32(11).i64(-(2n ** 62n)),
    (w) => w.str("t.f64").u32(12).f64(Math.PI),
    (w) => w.str("t.arr_u32").u32(9).u32(4).u64(3).u32(1).u32(2).u32(3),
    (w) => w.str("t.arr_str").u32(9).u32(8).u64(2).str("a").str(""),
    (w) => w.str("t.arr_empty").u32(9).u32(6).u64(0),
    (w) =>
      w.str("t.arr_nested").u32(9).u32(9).u64(2)
        .u32(7).u64(2).u8(1).u8(0) // [true, false]
        .u32(5).u64(1).i32(-5), // [-5]
    kvU32("general.alignment", 64),
  ];
  const data = new W().bytes(f32Bytes([1.5, -2, 3.25, 0])).pad(64) // f32 [2, 2] at 0
    .u16(0x3c00).u16(0xc000).pad(64) // f16 [2] at 64
    .bytes(new Uint8Array(34)).pad(64) // q8_0 [32] at 128
    .done();
  return build({
    kvs,
    infos: [
      info("w", [2, 2], 0, 0),
      info("h", [2], 1, 64),
      info("q", [32], 8, 128),
      info("empty", [0], 0, 192),
    ],
    alignment: 64,
    data,
  });
}

// --- (a) the byte layout ---------------------------------------------------------------------

Deno.test("gguf: a control vector's bytes follow the GGUF v3 layout llama.cpp loads", () => {
  const bytes = encodeControlVector(smallDirections(), { modelHint: "gemma2" });
  const view = new DataView(bytes.buffer);
  const dec = new TextDecoder();
  let at = 0;
  const u32 = () => (at += 4, view.getUint32(at - 4, true));
  const u64 = () => (at += 8, Number(view.getBigUint64(at - 8, true)));
  const str = () => {
    const n = u64();
    at += n;
    return dec.decode(bytes.subarray(at - n, at));
  };

  assert.deepEqual([...bytes.subarray(0, 4)], [0x47, 0x47, 0x55, 0x46], "magic 'GGUF'");
  at = 4;
  assert.equal(u32(), 3, "version");
  assert.equal(u64(), 2, "tensor_count (u64)");
  assert.equal(u64(), 3, "metadata_kv_count (u64)");
  assert.equal(at, 24);

  assert.equal(str(), "general.architecture");
  assert.equal(u32(), 8, "general.architecture is a string (type 8)");
  assert.equal(str(), "controlvector");
  assert.equal(str(), "controlvector.model_hint");
  assert.equal(u32(), 8, "model_hint is a string (type 8)");
  assert.equal(str(), "gemma2");
  assert.equal(str(), "controlvector.layer_count");
  assert.equal(u32(), 4, "layer_count is a uint32 (type 4)");
  assert.equal(u32(), 2, "layer_count is the number of directions");

  const infos: { name: string; dims: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < 2; i++) {
    const name = str();
    const nDims = u32();
    const dims = Array.from({ length: nDims }, u64);
    infos.push({ name, dims, type: u32(), offset: u64() });
  }
  assert.deepEqual(infos, [
    { name: "direction.1", dims: [3], type: 0, offset: 0 },
    { name: "direction.3", dims: [3], type: 0, offset: 32 },
  ], "one 1-D F32 tensor per layer, ascending, offsets relative and 32-aligned");

  const dataStart = Math.ceil(at / 32) * 32;
  assert.equal(at, 254, "header size");
  assert.equal(dataStart, 256, "data section starts on the next multiple of 32");
  assert.ok(bytes.subarray(at, dataStart).every((b) => b === 0), "header padding is zeros");
  assert.equal(bytes.length, dataStart + 64, "each tensor padded to 32 bytes, the last included");
  assert.deepEqual(
    [...bytes.subarray(dataStart, dataStart + 12)],
    [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40],
    "direction.1 = [1, 2, 3] as little-endian f32",
  );
  assert.ok(bytes.subarray(dataStart + 12, dataStart + 32).every((b) => b === 0));
  assert.deepEqual(
    [0, 1, 2].map((i) => view.getFloat32(dataStart + 32 + 4 * i, true)),
    [-0.5, 0.25, 8],
  );
  assert.ok(bytes.subarray(dataStart + 44).every((b) => b === 0), "trailing padding is zeros");
});

Deno.test("gguf: model_hint is optional and general.alignment is written only when not 32", () => {
  const plain = readGguf(encodeControlVector(smallDirections()));
  assert.deepEqual([...plain.metadata.keys()], [
    "general.architecture",
    "controlvector.layer_count",
  ]);
  const explicit32 = encodeControlVector(smallDirections(), { alignment: 32 });
  assert.deepEqual(explicit32, encodeControlVector(smallDirections()));

  const bytes = encodeControlVector(smallDirections(), { alignment: 64 });
  const file = readGguf(bytes);
  assert.deepEqual(file.metadata.get("general.alignment"), { type: "uint32", value: 64 });
  assert.equal(file.alignment, 64);
  assert.equal(file.dataOffset % 64, 0);
  assert.deepEqual(file.tensors.map((t) => t.offset - file.dataOffset), [0, 64]);
  assert.equal(bytes.length % 64, 0);
});

// --- (b) round trips -------------------------------------------------------------------------

function assertControlVector(file: GgufFile, directions: Map<number, Float32Array>): void {
  assert.equal(file.version, 3);
  assert.deepEqual(file.metadata.get("general.architecture"), {
    type: "string",
    value: "controlvector",
  });
  assert.deepEqual(file.metadata.get("controlvector.layer_count"), {
    type: "uint32",
    value: directions.size,
  });
  const layers = [...directions.keys()].sort((a, b) => a - b);
  assert.deepEqual(file.tensors.map((t) => t.name), layers.map((l) => `direction.${l}`));
  for (const t of file.tensors) {
    const want = directions.get(Number(t.name.slice("direction.".length)))!;
    assert.deepEqual(t.shape, [want.length]);
    assert.equal(t.type, GGML_TYPE_F32);
    assert.equal(t.byteLength, want.length * 4);
    assert.equal(t.offset % file.alignment, 0, `${t.name} aligned`);
    assert.deepEqual(t.data, want);
  }
}

Deno.test("gguf: readGguf round-trips a small control vector", () => {
  const directions = smallDirections();
  const file = readGguf(encodeControlVector(directions, { modelHint: "gemma2" }));
  assertControlVector(file, directions);
  assert.deepEqual(file.metadata.get("controlvector.model_hint"), {
    type: "string",
    value: "gemma2",
  });
  assert.equal(file.alignment, 32);
  assert.equal(file.dataOffset, 256);
});

Deno.test("gguf: readGguf round-trips many layers of an n_embd that is not a multiple of 8", () => {
  const directions = new Map<number, Float32Array>();
  for (const layer of [26, 1, 2, 7, 40]) {
    directions.set(layer, Float32Array.from({ length: 257 }, (_, i) => Math.sin(i * layer) * 1e3));
  }
  const file = readGguf(encodeControlVector(directions, { modelHint: "llama" }));
  assertControlVector(file, directions);
});

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

// --- (c) the independent Python reader -------------------------------------------------------

interface PyGguf {
  version: number;
  alignment: number;
  data_offset: number;
  metadata: Record<string, unknown>;
  types: Record<string, string>;
  tensors: {
    name: string;
    shape: number[];
    type: number;
    offset: number;
    values: number[] | null;
  }[];
}

async function readWithPython(bytes: Uint8Array): Promise<PyGguf> {
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  try {
    await Deno.writeFile(path, bytes);
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command("python3", {
        args: [PY_READER, path],
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      assert.fail(
        `python3 is part of this project's environment and must be runnable to cross-check ` +
          `GGUF files with tests/fixtures/read_gguf.py; spawning it failed: ${e}`,
      );
    }
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, `read_gguf.py exited with ${out.code}: ${stderr}`);
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } finally {
    await Deno.remove(path);
  }
}

/** A GgufValue as the Python reader prints it: plain JSON. */
function plain(v: GgufValue): unknown {
  if (v.type === "array") return v.value.map(plain);
  if (typeof v.value === "bigint") return Number(v.value);
  return v.value;
}

function assertSameAsPython(file: GgufFile, py: PyGguf): void {
  assert.equal(py.version, file.version);
  assert.equal(py.alignment, file.alignment);
  assert.equal(py.data_offset, file.dataOffset);
  assert.deepEqual(Object.keys(py.metadata), [...file.metadata.keys()]);
  for (const [key, value] of file.metadata) {
    assert.deepEqual(py.metadata[key], plain(value), key);
    assert.equal(py.types[key], value.type, `${key} type`);
  }
  assert.deepEqual(
    py.tensors.map(({ name, shape, type, offset }) => ({ name, shape, type, offset })),
    file.tensors.map(({ name, shape, type, offset }) => ({ name, shape, type, offset })),
  );
  file.tensors.forEach((t, i) => {
    assert.deepEqual(py.tensors[i].values, t.data ? [...t.data] : null, `${t.name} values`);
  });
}

Deno.test("gguf: the independent Python reader sees the same control vector", async () => {
  const directions = new Map<number, Float32Array>();
  for (const layer of [1, 5, 12]) {
    directions.set(layer, Float32Array.from({ length: 37 }, (_, i) => Math.cos(i + layer) / 3));
  }
  for (const alignment of [32, 64]) {
    const bytes = encodeControlVector(directions, { modelHint: "qwen2", alignment });
    const py = await readWithPython(bytes);
    assertSameAsPython(readGguf(bytes), py);
    assert.equal(py.metadata["general.architecture"], "controlvector");
    assert.equal(py.metadata["controlvector.model_hint"], "qwen2");
    assert.equal(py.types["controlvector.layer_count"], "uint32");
    assert.equal(py.metadata["controlvector.layer_count"], 3);
    for (const t of py.tensors) {
      const want = directions.get(Number(t.name.split(".")[1]))!;
      assert.deepEqual(t.values, [...want], t.name);
    }
  }
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
  build({ infos: [info("x", shape, type, offset)], data: f32Bytes([1, 2, 3, 4]) });

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
    infos: [info("a", [16], 0, 0), info("b", [4], 0, 32)],
    data: new Uint8Array(64),
  });
  rejects(two, /overlap/);
  rejects(build({ tensorCount: 1, infos: [info("x", [1], 0, 0)] }), /past the end/);
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
  rejects(build({ infos: [info("x", [1], 0, 0), info("x", [1], 0, 32)], data }), /duplicate/);
  rejects(build({ infos: [info("x".repeat(65), [1], 0, 0)], data }), /limit/);
  rejects(build({ infos: [info("x", [1, 1, 1, 1, 1], 0, 0)], data }), /5 dimensions/);
  rejects(build({ infos: [info("x", [2n ** 40n, 2n ** 40n], 0, 0)], data }), /too many elements/);
  rejects(build({ infos: [info("x", [4], 99, 0)], data }), /unknown ggml type 99/);
  rejects(build({ infos: [info("x", [16], 2, 0)], data }), /multiple of 32/);
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

// --- (e) the writer's argument checks --------------------------------------------------------

Deno.test("gguf: encodeControlVector rejects layers llama.cpp cannot steer", () => {
  for (const layer of [0, -1, 1.5, NaN, Infinity, 2 ** 31]) {
    assert.throws(
      () => encodeControlVector(new Map([[layer, Float32Array.of(1)]])),
      RangeError,
      `layer ${layer}`,
    );
  }
  assert.throws(
    () => encodeControlVector(new Map([[0, Float32Array.of(1)]])),
    /cannot steer layer 0/,
  );
});

Deno.test("gguf: encodeControlVector rejects mismatched, empty and non-finite directions", () => {
  const mismatched = new Map([[1, Float32Array.of(1, 2)], [2, Float32Array.of(1, 2, 3)]]);
  assert.throws(() => encodeControlVector(mismatched), RangeError);
  assert.throws(() => encodeControlVector(new Map()), RangeError);
  assert.throws(() => encodeControlVector(new Map([[1, new Float32Array(0)]])), RangeError);
  for (const bad of [NaN, Infinity, -Infinity]) {
    assert.throws(
      () => encodeControlVector(new Map([[1, Float32Array.of(1, bad)]])),
      /non-finite/,
      `value ${bad}`,
    );
  }
  for (const alignment of [0, 4, 48, 1.5, 2 ** 20]) {
    assert.throws(() => encodeControlVector(smallDirections(), { alignment }), RangeError);
  }
});
