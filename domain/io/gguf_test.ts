/**
 * GGUF: the control-vector writer's byte layout pinned field by field against the format,
 * round trips through the test reader (tests/gguf_reader.ts), a cross-check with an
 * independent Python reader (tests/fixtures/read_gguf.py), and the writer's argument checks.
 * @module
 */

import assert from "node:assert/strict";
import { encodeControlVector, GGML_TYPE_F32 } from "./gguf.ts";
import { type GgufFile, readGguf } from "../../tests/gguf_reader.ts";
import { assertSameAsPython, readWithPython, smallDirections } from "../../tests/gguf_fixtures.ts";

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
