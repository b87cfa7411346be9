/**
 * The safe torch.save reader: tensors equal torch's own values (every dtype, strided and
 * transposed views, byte orders, pickle protocol 4, saev's header prefix); hostile files
 * written by tests/fixtures/make_torch_fixtures.py are refused with a FormatError; mutated
 * archives and mutated pickles load or fail with a SaeError, never anything else.
 * @module
 */

import assert from "node:assert/strict";
import { bytesSource, tailSource } from "./byte_source.ts";
import { FormatError, SaeError } from "../errors.ts";
import { PyDict, unpickle, type UnpickleHooks } from "./pickle.ts";
import {
  loadTorchTensor,
  readTorchCheckpoint,
  readTorchStateDict,
  type TorchTensor,
} from "./torch_pickle.ts";
import { encodeZip, openZipEntry, readZipDirectory } from "./zip.ts";
import { mutate as mutateWith, rng } from "../../tests/fuzz.ts";

const DIR = new URL("../../tests/fixtures/torch/", import.meta.url);
const HOSTILE = new URL("../../tests/fixtures/hostile_pt/", import.meta.url);

interface Expected {
  tensors: Record<string, { dtype: string; shape: number[]; values: number[] }>;
  values: Record<string, number | string | boolean>;
}

const expected: Expected = JSON.parse(Deno.readTextFileSync(new URL("dtypes.json", DIR)));
const file = (name: string, dir = DIR) => Deno.readFileSync(new URL(name, dir));

function assertTensor(actual: TorchTensor | undefined, name: string): void {
  const want = expected.tensors[name];
  assert.ok(actual, `${name} loaded`);
  assert.equal(actual.dtype, want.dtype, `${name} dtype`);
  assert.deepEqual([...actual.shape], want.shape, `${name} shape`);
  // Every stored value is exactly an f32 after widening, except f64 / large ints (rounded once).
  assert.deepEqual(Array.from(actual.data), want.values.map(Math.fround), `${name} values`);
}

Deno.test("torch: every dtype, view and nested value equals torch's own reading", async () => {
  const { tensors, values } = await readTorchStateDict(bytesSource(file("dtypes.pt")));
  assert.deepEqual([...tensors.keys()], Object.keys(expected.tensors));
  for (const name of Object.keys(expected.tensors)) assertTensor(tensors.get(name), name);
  assert.deepEqual(Object.fromEntries(values), expected.values);
});

Deno.test("torch: a big-endian archive (byteorder 'big') reads the same numbers", async () => {
  const { tensors } = await readTorchStateDict(bytesSource(file("big_endian.pt")));
  for (const name of Object.keys(expected.tensors)) assertTensor(tensors.get(name), name);
});

Deno.test("torch: pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL) reads the same numbers", async () => {
  const { tensors } = await readTorchStateDict(bytesSource(file("protocol4.pt")));
  assert.deepEqual(
    Array.from(tensors.get("a")!.data),
    expected.tensors.f32.values.map(Math.fround),
  );
  assert.deepEqual(Array.from(tensors.get("b")!.data), expected.tensors.f16.values);
});

Deno.test("torch: an archive after a header line (saev's layout) reads from its own start", async () => {
  const bytes = file("with_header.pt");
  const start = bytes.indexOf(0x0a) + 1;
  const { tensors } = await readTorchStateDict(tailSource(bytesSource(bytes), start));
  assert.deepEqual(
    Array.from(tensors.get("w")!.data),
    expected.tensors.f32.values.map(Math.fround),
  );
  // Read from the file's start, the zip offsets are wrong by the header's length.
  await assert.rejects(readTorchStateDict(bytesSource(bytes)), SaeError);
});

Deno.test("torch: loading transposed equals the transpose; alloc receives the values", async () => {
  const checkpoint = await readTorchCheckpoint(bytesSource(file("dtypes.pt")));
  const plain = await loadTorchTensor(checkpoint, "f32");
  let given: Float32Array | undefined;
  const t = await loadTorchTensor(checkpoint, "f32", {
    transpose: true,
    alloc: (n) => (given = new Float32Array(n)),
  });
  assert.equal(t.data, given);
  assert.deepEqual([...t.shape], [7, 5]);
  for (let r = 0; r < 5; r++) {
    for (let c = 0; c < 7; c++) assert.equal(t.data[c * 5 + r], plain.data[r * 7 + c]);
  }
  // A transposed view transposed back is the original, whichever path reads it.
  const back = await loadTorchTensor(checkpoint, "transposed", { transpose: true });
  assert.deepEqual(Array.from(back.data), Array.from(plain.data));
  const strided = await loadTorchTensor(checkpoint, "sliced_f16", { transpose: true });
  assert.deepEqual([...strided.shape], [4, 3]);
  await assert.rejects(loadTorchTensor(checkpoint, "strided", { transpose: true }), FormatError);
  await assert.rejects(loadTorchTensor(checkpoint, "nope"), /missing tensor nope/);
});

const REFUSED: Record<string, RegExp> = {
  "global_os_system.pt": /global os\.system is refused/,
  "reduce_builtins_eval.pt": /global builtins\.eval is refused/,
  "load_from_bytes.pt": /global torch\.storage\._load_from_bytes is refused/,
  "reduce_storage_class.pt": /calling torch\.FloatStorage is refused/,
  "newobj.pt": /\(NEWOBJ\).* refused/,
  "inst.pt": /\(INST\).* refused/,
  "huge_numel.pt": /1099511627776 float32 elements need .* its member holds 24/,
  "storage_larger_than_file.pt": /7 float32 elements need 28 bytes; its member holds 24/,
  "view_out_of_bounds.pt": /reaches element 6 of a 6-element storage/,
  "expanded_view.pt": /6000000 elements views a 6-element storage/,
  "missing_storage.pt": /storage "9" has no data\/9 member/,
  "deep_marks.pt": /MARKs nested deeper than 1000/,
  "deep_dicts.pt": /dicts nested deeper than 32/,
  "cyclic_dict.pt": /dicts nested deeper than 32/,
  "stack_flood.pt": /stack deeper than 100000/,
  "legacy_format.pt": /legacy \(pre-1\.6, non-zip\) torch serialization/,
  "truncated.pt": /zip: no end-of-central-directory record/,
};

Deno.test("torch: every hostile file is refused with a FormatError saying why", async () => {
  const names = [...Deno.readDirSync(HOSTILE)].map((e) => e.name).sort();
  assert.deepEqual(names, Object.keys(REFUSED).sort(), "each hostile fixture has an expectation");
  for (const name of names) {
    await assert.rejects(
      readTorchStateDict(bytesSource(file(name, HOSTILE))),
      (e: unknown) => e instanceof FormatError && REFUSED[name].test(e.message),
      name,
    );
  }
});

Deno.test("pickle: the VM refuses what its hooks refuse and bounds its memo", () => {
  const hooks: UnpickleHooks = {
    global: () => {
      throw new FormatError("pt", "no globals");
    },
    reduce: () => null,
    persistentLoad: () => null,
    build: (t) => t,
  };
  // {} with one item, protocol 2.
  const ok = unpickle(Uint8Array.from([0x80, 2, 0x7d, 0x4b, 1, 0x4e, 0x73, 0x2e]), hooks);
  assert.ok(ok instanceof PyDict && ok.entries.get(1) === null);
  assert.throws(
    () => unpickle(Uint8Array.from("\x80\x02cos\nsystem\n.", (c) => c.charCodeAt(0)), hooks),
    /no globals/,
  );
  // BINPUT of 3 values into a memo bounded at 2.
  const memo = Uint8Array.from([0x4e, 0x71, 0, 0x71, 1, 0x71, 2, 0x2e]);
  assert.throws(() => unpickle(memo, hooks, { maxMemo: 2 }), /more than 2 memo entries/);
  assert.throws(() => unpickle(Uint8Array.from([0x4e, 0x2e, 0]), hooks), /bytes after STOP/);
  assert.throws(() => unpickle(Uint8Array.from([0x58, 9, 0, 0, 0]), hooks), /ends mid-opcode/);
});

// ---------------------------------------------------------------------------------------------
// Mutation fuzz
// ---------------------------------------------------------------------------------------------

const mutate = (bytes: Uint8Array, random: () => number) =>
  mutateWith(bytes, random, {
    truncate: 0.1,
    specials: [0, 0xff, 0x7f, 0x80, 0x71, 0x68, 0x28, 0x52],
  });

async function outcome(what: string, bytes: Uint8Array): Promise<"ok" | "rejected"> {
  try {
    await readTorchStateDict(bytesSource(bytes));
    return "ok";
  } catch (e) {
    if (e instanceof SaeError) return "rejected";
    assert.fail(
      `${what}: threw a non-SaeError ${e instanceof Error ? `${e.name}: ${e.message}` : e}`,
    );
  }
}

Deno.test("fuzz: 250 mutated torch archives load or fail with a SaeError", async () => {
  const random = rng(11);
  const valid = file("dtypes.pt");
  const seen = { ok: 0, rejected: 0 };
  for (let i = 0; i < 250; i++) seen[await outcome(`archive mutant ${i}`, mutate(valid, random))]++;
  assert.ok(seen.rejected > 100, JSON.stringify(seen));
});

Deno.test("fuzz: 250 mutated data.pkl pickles (re-zipped, valid CRCs) load or fail with a SaeError", async () => {
  const random = rng(12);
  const source = bytesSource(file("dtypes.pt"));
  const members = [];
  for (const entry of await readZipDirectory(source)) {
    const data = new Uint8Array(
      await new Response(await openZipEntry(source, entry)).arrayBuffer(),
    );
    members.push({ name: entry.name, data });
  }
  const pkl = members.findIndex((m) => m.name.endsWith("/data.pkl"));
  const seen = { ok: 0, rejected: 0 };
  for (let i = 0; i < 250; i++) {
    const mutated = members.map((m, j) => j === pkl ? { ...m, data: mutate(m.data, random) } : m);
    seen[await outcome(`pickle mutant ${i}`, await encodeZip(mutated))]++;
  }
  assert.ok(seen.rejected > 100 && seen.ok > 0, JSON.stringify(seen));
});
