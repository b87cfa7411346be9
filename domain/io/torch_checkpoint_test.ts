/**
 * Parsing torch.save archives without reading tensor data: the views torch wrote in the
 * fixtures (tests/fixtures/torch/, made by torch itself) come back as exact (dtype, shape,
 * stride, offset, storage) refs, no storage member is opened, and hand-assembled archives
 * exercise each check: views inside storages, storage sizes, the allow-list, the layout.
 * @module
 */

import assert from "node:assert/strict";
import { type ByteSource, bytesSource } from "./byte_source.ts";
import { FormatError } from "../errors.ts";
import { readTorchCheckpoint, type TorchTensorRef } from "./torch_checkpoint.ts";
import { encodeZip, readZipDirectory } from "./zip.ts";

const DIR = new URL("../../tests/fixtures/torch/", import.meta.url);
const fixture = (name: string) => Deno.readFileSync(new URL(name, DIR));
const view = (t: TorchTensorRef | undefined) =>
  t && [t.dtype, [...t.shape], [...t.stride], t.offset, t.storage.key, t.storage.numel];

/** A ByteSource that records the offset of every range read. */
function recording(bytes: Uint8Array): { source: ByteSource; offsets: number[] } {
  const inner = bytesSource(bytes);
  const offsets: number[] = [];
  return {
    offsets,
    source: {
      size: inner.size,
      stream: (offset, length) => (offsets.push(offset), inner.stream(offset, length)),
    },
  };
}

Deno.test("torch checkpoint: views come back as torch wrote them, with no storage opened", async () => {
  const bytes = fixture("dtypes.pt");
  const { source, offsets } = recording(bytes);
  const c = await readTorchCheckpoint(source);
  assert.equal(c.littleEndian, true);
  assert.deepEqual(view(c.tensors.get("f32")), ["float32", [5, 7], [7, 1], 0, "0", 35]);
  assert.deepEqual(view(c.tensors.get("f64")), ["float64", [2, 7], [7, 1], 0, "3", 35]);
  assert.deepEqual(view(c.tensors.get("scalar")), ["float32", [], [], 0, "6", 1]);
  // base.t(): Fortran order over the same storage object as f32.
  assert.deepEqual(view(c.tensors.get("transposed")), ["float32", [7, 5], [1, 7], 0, "0", 35]);
  assert.equal(c.tensors.get("transposed")!.storage, c.tensors.get("f32")!.storage);
  // big[1:, ::2, 3:9:2] of a (4, 6, 10) tensor: offset 60 + 3, strides (60, 20, 2).
  assert.deepEqual(view(c.tensors.get("strided")), [
    "float32",
    [3, 3, 3],
    [60, 20, 2],
    63,
    "7",
    240,
  ]);
  assert.deepEqual(view(c.tensors.get("sliced_f16")), ["float16", [3, 4], [7, 1], 15, "8", 35]);
  assert.deepEqual(view(c.tensors.get("param")), ["float32", [2, 3], [3, 1], 0, "9", 6]);
  assert.deepEqual(view(c.tensors.get("nested.inner.w")), ["float32", [2, 2], [2, 1], 0, "10", 4]);
  assert.deepEqual(Object.fromEntries(c.values), {
    "nested.lr": 0.001,
    "nested.name": "fixture",
    "nested.flag": true,
    "nested.steps": 1000,
  });
  const entries = await readZipDirectory(bytesSource(bytes));
  const pkl = entries.find((e) => e.name === "dtypes/data.pkl")!;
  assert.ok(offsets.includes(pkl.localHeaderOffset), "data.pkl is opened (the recorder works)");
  const storageHeaders = entries
    .filter((e) => e.name.startsWith("dtypes/data/")).map((e) => e.localHeaderOffset);
  assert.equal(storageHeaders.length, 11);
  for (const at of storageHeaders) assert.ok(!offsets.includes(at), `storage at ${at} opened`);
});

Deno.test("torch checkpoint: byteorder 'big' is reported; the views are the same", async () => {
  const little = await readTorchCheckpoint(bytesSource(fixture("dtypes.pt")));
  const big = await readTorchCheckpoint(bytesSource(fixture("big_endian.pt")));
  assert.equal(big.littleEndian, false);
  assert.deepEqual([...big.tensors.keys()], [...little.tensors.keys()]);
  for (const [name, t] of big.tensors) assert.deepEqual(view(t), view(little.tensors.get(name)));
});

Deno.test("torch checkpoint: a training checkpoint keeps tensors and plain values only", async () => {
  const c = await readTorchCheckpoint(bytesSource(fixture("training_checkpoint.pt")));
  assert.deepEqual(view(c.tensors.get("ae.encoder.weight")), [
    "float32",
    [8, 4],
    [4, 1],
    0,
    "4",
    32,
  ]);
  assert.deepEqual(view(c.tensors.get("ae.k")), ["int32", [], [], 0, "1", 1]);
  // Adam's state is keyed by parameter number: the int key becomes a dotted name.
  assert.ok(c.tensors.has("optimizer.state.2.exp_avg_sq"));
  assert.equal(c.values.get("step"), 10);
  assert.equal(c.values.get("config.k"), 2);
  // None (norm_factor) and lists (optimizer.param_groups) are dropped.
  assert.ok(
    ![...c.values.keys(), ...c.tensors.keys()].some((k) => /norm_factor|param_groups/.test(k)),
  );
});

// --- hand-assembled archives (pickle protocol 2) ---------------------------------------------

type Ops = number[];
const enc = new TextEncoder();
const str = (s: string): Ops => {
  const b = enc.encode(s);
  return [0x58, b.length, 0, 0, 0, ...b];
};
const int = (n: number): Ops =>
  n < 256 ? [0x4b, n] : [0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
const global = (module: string, name: string): Ops => [0x63, ...enc.encode(`${module}\n${name}\n`)];
const tuple = (...items: Ops[]): Ops => [0x28, ...items.flat(), 0x74];
const dict = (
  entries: [string, Ops][],
): Ops => [0x7d, 0x28, ...entries.flatMap(([k, v]) => [...str(k), ...v]), 0x75];
const pickle = (body: Ops) => Uint8Array.from([0x80, 2, ...body, 0x2e]);

interface TensorSpec {
  key?: string;
  storage?: string;
  numel?: number;
  offset?: number;
  size?: number[];
  stride?: number[];
}

/** _rebuild_tensor_v2((storage pid), offset, size, stride, False, {}). */
function tensor(spec: TensorSpec = {}): Ops {
  const pid = tuple(
    str("storage"),
    global("torch", spec.storage ?? "FloatStorage"),
    str(spec.key ?? "0"),
    str("cpu"),
    int(spec.numel ?? 6),
  );
  return [
    ...global("torch._utils", "_rebuild_tensor_v2"),
    ...tuple(
      [...pid, 0x51],
      int(spec.offset ?? 0),
      tuple(...(spec.size ?? [2, 3]).map(int)),
      tuple(...(spec.stride ?? [3, 1]).map(int)),
      [0x89],
      [0x7d],
    ),
    0x52,
  ];
}

interface ArchiveOptions {
  storages?: Record<string, number>;
  byteorder?: string;
  root?: string;
}

/** A zip with `<root>/data.pkl` and one `<root>/data/<key>` member of the given bytes per storage. */
function archive(pkl: Uint8Array, options: ArchiveOptions = {}): Promise<Uint8Array> {
  const root = options.root ?? "archive";
  const storages = options.storages ?? { "0": 24 };
  return encodeZip([
    { name: `${root}/data.pkl`, data: pkl },
    ...Object.entries(storages).map(([key, n]) => ({
      name: `${root}/data/${key}`,
      data: new Uint8Array(n),
    })),
    ...(options.byteorder === undefined
      ? []
      : [{ name: `${root}/byteorder`, data: enc.encode(options.byteorder) }]),
  ]);
}

const read = async (pkl: Uint8Array, options?: ArchiveOptions) =>
  await readTorchCheckpoint(bytesSource(await archive(pkl, options)));

/** Assert reading rejects with a FormatError of `kind` matching `message`. */
async function rejects(
  bytes: Promise<Uint8Array> | Uint8Array,
  kind: "malformed" | "invalid",
  message: RegExp,
): Promise<void> {
  await assert.rejects(
    readTorchCheckpoint(bytesSource(await bytes)),
    (e) => e instanceof FormatError && e.kind === kind && message.test(e.message),
    message.source,
  );
}

Deno.test("torch checkpoint: a hand-made state dict parses to its view, parameter and values", async () => {
  const pkl = pickle(dict([
    ["w", tensor({ offset: 1, size: [2, 2], stride: [1, 2] })],
    ["p", [
      ...global("torch._utils", "_rebuild_parameter"),
      ...tuple(tensor({ key: "1", numel: 2, size: [2], stride: [1] }), [0x88], [0x7d]),
      0x52,
    ]],
    ["o", [
      ...global("collections", "OrderedDict"),
      0x29,
      0x52,
      0x28,
      ...str("x"),
      ...int(300),
      0x75,
    ]],
    ["n", [0x4e]],
  ]));
  const c = await read(pkl, { storages: { "0": 24, "1": 8 }, byteorder: "little\n" });
  assert.equal(c.littleEndian, true);
  assert.deepEqual(view(c.tensors.get("w")), ["float32", [2, 2], [1, 2], 1, "0", 6]);
  assert.deepEqual(view(c.tensors.get("p")), ["float32", [2], [1], 0, "1", 2]);
  assert.deepEqual([...c.values], [["o.x", 300]]);
  assert.equal(
    (await read(pkl, { storages: { "0": 24, "1": 8 }, byteorder: "big" })).littleEndian,
    false,
  );
  await rejects(
    archive(pkl, { storages: { "0": 24, "1": 8 }, byteorder: "middle" }),
    "malformed",
    /byteorder "middle"/,
  );
});

Deno.test("torch checkpoint: views must lie inside storages that match their members", async () => {
  const one = (spec: TensorSpec, storages?: Record<string, number>) =>
    archive(pickle(dict([["w", tensor(spec)]])), { storages });
  // Last element 3 + 1*1 + 1*2 = 6 of a 6-element storage.
  await rejects(
    one({ offset: 3, size: [2, 2], stride: [1, 2] }),
    "malformed",
    /reaches element 6 of a 6-element storage/,
  );
  await rejects(
    one({ size: [10], stride: [0] }),
    "malformed",
    /a tensor of 10 elements views a 6-element storage/,
  );
  await rejects(
    one({ size: [2, 3], stride: [3] }),
    "malformed",
    /size and stride differ in length/,
  );
  await rejects(
    one({}, { "0": 20 }),
    "malformed",
    /6 float32 elements need 24 bytes; its member holds 20/,
  );
  await rejects(
    one({ storage: "DoubleStorage" }, { "0": 24 }),
    "malformed",
    /6 float64 elements need 48 bytes/,
  );
  await rejects(one({ key: "9" }), "malformed", /storage "9" has no data\/9 member/);
  const twice = pickle(
    dict([["a", tensor()], ["b", tensor({ numel: 3, size: [3], stride: [1] })]]),
  );
  await rejects(archive(twice), "malformed", /storage 0 is described two different ways/);
  const empty = await read(pickle(dict([["e", tensor({ size: [0, 3], offset: 0 })]])));
  assert.deepEqual(view(empty.tensors.get("e")), ["float32", [0, 3], [3, 1], 0, "0", 6]);
});

Deno.test("torch checkpoint: anything outside the allow-list is refused", async () => {
  const evil = pickle(dict([["x", [...global("os", "system"), ...tuple(str("true")), 0x52]]]));
  await rejects(archive(evil), "invalid", /global os.system is refused/);
  const hooked = [
    ...global("torch._utils", "_rebuild_parameter"),
    ...tuple(tensor(), [0x88], dict([["h", int(1)]])),
    0x52,
  ];
  await rejects(archive(pickle(dict([["p", hooked]]))), "invalid", /parameter with backward hooks/);
  const args = [...global("collections", "OrderedDict"), ...tuple(int(1)), 0x52];
  await rejects(archive(pickle(dict([["o", args]]))), "invalid", /OrderedDict with arguments/);
  const pid = pickle(dict([["s", [...tuple(str("module"), str("x")), 0x51]]]));
  await rejects(archive(pid), "invalid", /persistent id other than/);
});

Deno.test("torch checkpoint: the archive layout is checked (root, one data.pkl, a dict, zip)", async () => {
  await rejects(archive(pickle([0x5d])), "malformed", /not a dict/);
  const pkl = pickle(dict([]));
  await rejects(
    encodeZip([{ name: "data.pkl", data: pkl }]),
    "malformed",
    /not at <root>\/data.pkl/,
  );
  await rejects(
    encodeZip([{ name: "a/data.pkl", data: pkl }, { name: "b/data.pkl", data: pkl }]),
    "malformed",
    /2 data.pkl members/,
  );
  await rejects(encodeZip([{ name: "a/other", data: pkl }]), "malformed", /0 data.pkl members/);
  // A bare pickle is torch's legacy format: named, not just "not a zip".
  await rejects(pkl, "invalid", /legacy \(pre-1.6, non-zip\)/);
  await assert.rejects(
    readTorchCheckpoint(bytesSource(enc.encode("not a zip at all"))),
    FormatError,
  );
  // Dicts nested 33 deep are over MAX_NESTING (32).
  let nested: Ops = int(1);
  for (let i = 0; i < 34; i++) nested = dict([["d", nested]]);
  await rejects(archive(pickle(nested)), "malformed", /nested deeper than 32/);
  assert.deepEqual((await read(pickle(dict([["a", dict([["b", int(2)]])]])))).values.get("a.b"), 2);
});
