/**
 * Shared by the GGUF tests: a small control vector, a little-endian byte builder for
 * hand-made (and hand-broken) GGUF files, a file holding every metadata type, and a bridge to
 * the independent Python reader (tests/fixtures/read_gguf.py).
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { GgufFile, GgufValue } from "./gguf_reader.ts";

const PY_READER = fileURLToPath(new URL("./fixtures/read_gguf.py", import.meta.url));
const enc = new TextEncoder();

/** A small control vector: layers 3 and 1 (inserted out of order), n_embd = 3. */
export function smallDirections(): Map<number, Float32Array> {
  return new Map([
    [3, Float32Array.of(-0.5, 0.25, 8)],
    [1, Float32Array.of(1, 2, 3)],
  ]);
}

/** A little-endian byte builder for hand-made (and hand-broken) GGUF files. */
export class W {
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

/** One piece of a GGUF file: writes itself with a writer. */
export type Part = (w: W) => unknown;

/** Assemble a GGUF file from parts; counts default to the number of parts given. */
export function build(o: {
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

/** A string key-value pair. */
export function kvStr(key: string, value: string): Part {
  return (w) => w.str(key).u32(8).str(value);
}

/** A u32 key-value pair. */
export function kvU32(key: string, value: number): Part {
  return (w) => w.str(key).u32(4).u32(value);
}

/** A tensor's info record: name, shape, type code and data offset. */
export function info(
  name: string,
  tensor: { shape: (number | bigint)[]; type: number; offset: number | bigint },
): Part {
  const { shape, type, offset } = tensor;
  return (w) => {
    w.str(name).u32(shape.length);
    for (const d of shape) w.u64(d);
    w.u32(type).u64(offset);
  };
}

/** `values` as little-endian f32 bytes. */
export function f32Bytes(values: number[]): Uint8Array {
  const w = new W();
  for (const v of values) w.f32(v);
  return w.done();
}

/** A hand-made file holding every metadata value type, nested arrays and non-F32 tensors. */
export function allTypesFile(): Uint8Array {
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
      info("w", { shape: [2, 2], type: 0, offset: 0 }),
      info("h", { shape: [2], type: 1, offset: 64 }),
      info("q", { shape: [32], type: 8, offset: 128 }),
      info("empty", { shape: [0], type: 0, offset: 192 }),
    ],
    alignment: 64,
    data,
  });
}

/** What tests/fixtures/read_gguf.py prints for a file. */
export interface PyGguf {
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

/** Read a GGUF file's bytes with tests/fixtures/read_gguf.py (an independent reader). */
export async function readWithPython(bytes: Uint8Array): Promise<PyGguf> {
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
export function plain(v: GgufValue): unknown {
  if (v.type === "array") return v.value.map(plain);
  if (typeof v.value === "bigint") return Number(v.value);
  return v.value;
}

/** Assert that our reader's `file` and the Python reader's `py` agree field by field. */
export function assertSameAsPython(file: GgufFile, py: PyGguf): void {
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
