/**
 * Aligned dictionaries on a hand-made two-stream dictionary whose pre-activations, TopK picks,
 * Jaccards, decodes and concept alignments are worked out by hand; the folder format round trips.
 * @module
 */

import assert from "node:assert/strict";
import {
  type AlignedCodes,
  type AlignedDictionary,
  alignedFiles,
  conceptAlignment,
  decodeInto,
  encodeAligned,
  loadAligned,
  parseAlignedConfig,
  preActivations,
  rowJaccard,
  stream,
  translate,
} from "./aligned.ts";
import { FormatError, SaeError } from "../errors.ts";
import { matrix } from "./matrix.ts";
import { bytesSource } from "../io/byte_source.ts";
import { encodeSafetensors } from "../io/safetensors.ts";

const f32 = (...v: number[]) => Float32Array.from(v);

/**
 * latents 3, k 2. Stream "a" (d 2): h_a = x @ [[1,0,1],[0,1,-1]]; decoder rows [1,0],[0,1],[1,1].
 * Stream "b" (d 1): h_b = (x - 1) * [1,2,-1] + [0,0,0.5]; decoder rows [1],[2],[3], b_pre 1.
 */
function dict(): AlignedDictionary {
  return {
    latents: 3,
    k: 2,
    streams: [
      {
        name: "a",
        d: 2,
        wEnc: f32(1, 0, 1, 0, 1, -1),
        bPre: f32(0, 0),
        bLat: f32(0, 0, 0),
        wDec: f32(1, 0, 0, 1, 1, 1),
      },
      {
        name: "b",
        d: 1,
        wEnc: f32(1, 2, -1),
        bPre: f32(1),
        bLat: f32(0, 0, 0.5),
        wDec: f32(1, 2, 3),
      },
    ],
  };
}

// Row 0: h_a = [3, 1, 2], h_b = [1, 2, -0.5]. Row 1: h_a = [0, 1, -1], h_b = [2, 4, -1.5].
const inputs = () =>
  new Map([["a", matrix([2, 2], f32(3, 1, 0, 1))], ["b", matrix([2, 1], f32(2, 3))]]);

const lists = (rows: ArrayLike<number>[]) => rows.map((r) => Array.from(r));

Deno.test("aligned: pre-activations are (x - b_pre) @ W_enc + b_lat", () => {
  const d = dict();
  assert.deepEqual([...preActivations(d.streams[0], inputs().get("a")!, { latents: 3 })], [
    3,
    1,
    2,
    0,
    1,
    -1,
  ]);
  assert.deepEqual([...preActivations(d.streams[1], inputs().get("b")!, { latents: 3 })], [
    1,
    2,
    -0.5,
    2,
    4,
    -1.5,
  ]);
  assert.throws(
    () => preActivations(d.streams[1], matrix([1, 2]), { latents: 3 }),
    (e) =>
      e instanceof SaeError && e.kind === "invalid" && /takes 1 columns, got 2/.test(e.message),
  );
});

Deno.test("aligned: local TopK picks per stream, keeps positives, sorts by value", () => {
  const codes = encodeAligned(dict(), inputs(), { topk: "local" });
  assert.deepEqual(lists(codes.indices.get("a")!), [[0, 2], [1]]); // row 1: h_a[0] = 0 dropped
  assert.deepEqual(lists(codes.values.get("a")!), [[3, 2], [1]]);
  assert.deepEqual(lists(codes.indices.get("b")!), [[1, 0], [1, 0]]);
  assert.deepEqual(lists(codes.values.get("b")!), [[2, 1], [4, 2]]);
  // Row 0: {0, 2} vs {0, 1} -> 1/3; row 1: {1} vs {0, 1} -> 1/2.
  assert.deepEqual(rowJaccard(codes), [1 / 3, 1 / 2]);
});

Deno.test("aligned: global TopK shares the indices of the summed pre-activations", () => {
  const codes = encodeAligned(dict(), inputs(), { topk: "global" });
  // Row 0: sum [4, 3, 1.5] -> {0, 1}; row 1: sum [2, 5, -2.5] -> {0, 1}, a's h[0] = 0 dropped.
  assert.deepEqual(lists(codes.indices.get("a")!), [[0, 1], [1]]);
  assert.deepEqual(lists(codes.values.get("a")!), [[3, 1], [1]]);
  assert.deepEqual(lists(codes.indices.get("b")!), [[1, 0], [1, 0]]);
  assert.deepEqual(rowJaccard(codes), [1, 1 / 2]);
  // One stream alone: Jaccard 1 by definition.
  const alone = encodeAligned(dict(), new Map([["b", inputs().get("b")!]]), { topk: "global" });
  assert.deepEqual(rowJaccard(alone), [1, 1]);
});

Deno.test("aligned: encode refuses no streams, unequal rows and unknown streams", () => {
  const invalid = (e: unknown) => e instanceof SaeError && e.kind === "invalid";
  assert.throws(() => encodeAligned(dict(), new Map(), { topk: "local" }), invalid);
  const uneven = new Map([["a", matrix([1, 2])], ["b", matrix([2, 1])]]);
  assert.throws(() => encodeAligned(dict(), uneven, { topk: "global" }), invalid);
  assert.throws(
    () => stream(dict(), "c"),
    (e) => invalid(e) && /unknown stream "c"; streams: a, b/.test((e as Error).message),
  );
  assert.equal(stream(dict(), "b").d, 1);
});

Deno.test("aligned: decodeInto is z @ W_dec + b_pre; translate encodes locally then decodes", () => {
  const codes = { indices: [Int32Array.of(0, 2)], values: [f32(3, 2)] };
  assert.deepEqual([...decodeInto(dict(), codes, { to: "a" }).data], [5, 2]);
  assert.deepEqual([...decodeInto(dict(), codes, { to: "b" }).data], [1 + 3 * 1 + 2 * 3]);
  const empty = decodeInto(
    dict(),
    { indices: [new Int32Array(0)], values: [new Float32Array(0)] },
    { to: "b" },
  );
  assert.deepEqual([...empty.data], [1], "no active latent decodes to b_pre");
  // Row 0 of "a" encodes locally to {0: 3, 2: 2}, so it translates to b as 10.
  const out = translate(dict(), matrix([1, 2], f32(3, 1)), { from: "a", to: "b" });
  assert.deepEqual([out.rows, out.cols, ...out.data], [1, 1, 10]);
  assert.throws(() => translate(dict(), matrix([1, 2]), { from: "a", to: "c" }), SaeError);
});

Deno.test("aligned: concept alignment is the weighted Jaccard of label profiles per latent", () => {
  const labels = [[1, 0], [0, 1]];
  const global = conceptAlignment(encodeAligned(dict(), inputs(), { topk: "global" }), {
    labels,
    latents: 3,
  });
  // Latent 0: a [1,0] vs b [1,1] -> 1/2; latent 1: [1,1] vs [1,1] -> 1; latent 2 never fires.
  assert.deepEqual(global, { perLatent: [0.5, 1, 0], mean: 0.5, dead: [2], mixed: [] });
  const local = conceptAlignment(encodeAligned(dict(), inputs(), { topk: "local" }), {
    labels,
    latents: 3,
  });
  // Latent 1: a [0,1] vs b [1,1] -> 1/2; latent 2 fires in "a" only: mixed, scored 0.
  assert.deepEqual(local, { perLatent: [0.5, 0.5, 0], mean: 1 / 3, dead: [], mixed: [2] });
  const none: AlignedCodes = { indices: new Map(), values: new Map() };
  assert.deepEqual(conceptAlignment(none, { labels: [], latents: 0 }), {
    perLatent: [],
    mean: 0,
    dead: [],
    mixed: [],
  });
});

Deno.test("aligned: alignedFiles round trips through parseAlignedConfig and loadAligned", async () => {
  const d = dict();
  const files = alignedFiles(d, { description: "two streams" });
  assert.deepEqual([...files.keys()], ["saeserve.json", "aligned.safetensors"]);
  const sidecar = JSON.parse(new TextDecoder().decode(files.get("saeserve.json")));
  assert.equal(sidecar.description, "two streams");
  const config = parseAlignedConfig(sidecar);
  assert.deepEqual(config, {
    latents: 3,
    k: 2,
    streams: [{ name: "a", d: 2 }, { name: "b", d: 1 }],
  });
  const loaded = await loadAligned(bytesSource(files.get("aligned.safetensors")!), config);
  assert.equal(loaded.k, 2);
  for (const [i, s] of loaded.streams.entries()) {
    const want = d.streams[i];
    assert.equal(s.name, want.name);
    for (const key of ["wEnc", "bPre", "bLat", "wDec"] as const) {
      assert.deepEqual([...s[key]], [...want[key]], `${s.name}.${key}`);
      assert.ok(s[key].buffer instanceof SharedArrayBuffer, "weights live in shared memory");
    }
  }
});

Deno.test("aligned: loadAligned reports missing, misshapen and non-finite tensors", async () => {
  const config = { latents: 3, k: 2, streams: [{ name: "b", d: 1 }] };
  const good = {
    "b.W_enc": { shape: [1, 3], data: f32(1, 2, 3) },
    "b.b_pre": { shape: [1], data: f32(0) },
    "b.b_lat": { shape: [3], data: f32(0, 0, 0) },
    "b.W_dec": { shape: [3, 1], data: f32(1, 2, 3) },
  };
  const load = (tensors: Record<string, { shape: number[]; data: Float32Array }>) =>
    loadAligned(bytesSource(encodeSafetensors(tensors)), config);
  assert.equal((await load(good)).streams[0].wDec[2], 3);
  const { "b.b_lat": _, ...missing } = good;
  await assert.rejects(
    load(missing),
    (e) => e instanceof FormatError && /missing tensor b.b_lat/.test(e.message),
  );
  await assert.rejects(
    load({ ...good, "b.W_dec": { shape: [1, 3], data: f32(1, 2, 3) } }),
    (e) =>
      e instanceof FormatError && /b.W_dec has shape \[1,3\], expected \[3,1\]/.test(e.message),
  );
  await assert.rejects(
    load({ ...good, "b.b_pre": { shape: [1], data: f32(NaN) } }),
    (e) => e instanceof FormatError && /non-finite/.test(e.message),
  );
});

Deno.test("aligned: parseAlignedConfig rejects each malformed field", () => {
  const base = { kind: "aligned", latents: 4, k: 2, streams: [{ name: "x", d: 3 }] };
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ ...base, kind: "sae" }, /kind must be "aligned"/],
    [{ ...base, latents: 0 }, /latents must be a positive integer/],
    [{ ...base, latents: 2.5 }, /latents/],
    [{ ...base, k: 5 }, /k must be an integer in \[1, latents\]/],
    [{ ...base, k: 0 }, /k must be/],
    [{ ...base, streams: [] }, /streams must be a non-empty list/],
    [{ ...base, streams: [{ name: "has space", d: 3 }] }, /stream 0 needs a simple name/],
    [{ ...base, streams: [{ name: "x", d: 0 }] }, /stream x needs a positive width d/],
    [{ ...base, streams: [{ name: "x", d: 3 }, { name: "x", d: 2 }] }, /names must differ/],
  ];
  for (const [json, message] of bad) {
    assert.throws(
      () => parseAlignedConfig(json),
      (e) => e instanceof FormatError && e.kind === "malformed" && message.test(e.message),
      JSON.stringify(json),
    );
  }
  assert.deepEqual(parseAlignedConfig(base).streams, [{ name: "x", d: 3 }]);
});
