/**
 * Cost is checked before work starts (issue 14): each measured case that used to run for
 * seconds to minutes, or crash, is refused up front, quickly, with 413 (over a budget, naming
 * the variable that sets it) or 422 (an option outside what the dictionary or the rows have);
 * duplicates in index lists count once. Over the demo dictionaries (d_in 64, d_sae 256).
 * @module
 */

import assert from "node:assert/strict";
import type { Limits } from "../domain/cost.ts";
import { crc32 } from "../domain/io/crc32.ts";
import { fileStore } from "../service/store/file.ts";
import { postJson, type TestApp, testApp } from "./helpers.ts";
import { expectProblem } from "./problem.ts";

const DEMO = new URL("../dictionaries", import.meta.url).pathname;
const D_IN = 64;

/** Rows of deterministic activations. */
function rows(n: number, d = D_IN): number[][] {
  return Array.from(
    { length: n },
    (_, r) =>
      Array.from({ length: d }, (_, c) => Math.round(Math.sin(r * 1.3 + c * 0.7) * 1e3) / 1e3),
  );
}

/** The demo app with the default limits, or with `limits` over them. */
async function withApp(
  work: (app: TestApp["app"]) => Promise<void>,
  limits?: Partial<Limits>,
): Promise<void> {
  const { app, registry, jobs } = testApp({ store: fileStore(DEMO), limits });
  try {
    await work(app);
  } finally {
    jobs.close();
    registry.close();
  }
}

/** POST `body` and expect a refusal with `status` whose detail matches `detail`, within `ms`. */
async function refused(
  app: TestApp["app"],
  path: string,
  body: unknown,
  expect: { status: number; detail: RegExp; ms?: number },
): Promise<void> {
  const started = performance.now();
  const res = await postJson(app, { path: path, body: body });
  const elapsed = performance.now() - started;
  await expectProblem(res, expect);
  assert.ok(elapsed < (expect.ms ?? 3000), `${path} took ${elapsed.toFixed(0)} ms`);
}

/** A JSON text with a long array spliced in at `"@@"` (no giant JS array to stringify). */
function spliced(body: unknown, array: string): string {
  return JSON.stringify(body).replace('"@@"', array);
}

Deno.test("cost: probe training is estimated and refused up front (k list, probe work)", async () => {
  await withApp(async (app) => {
    const x = rows(2000);
    const labels = x.map((_, r) => r % 2);
    // Measured: k = [1..256] with the sae method ran for more than 11 minutes.
    const k = Array.from({ length: 256 }, (_, i) => i + 1);
    const sae = { activations: x, labels, dictionary: "demo-topk", methods: ["sae"] };
    await refused(app, "/v1/probes/train", { ...sae, k }, { status: 422, detail: /k.*32/ });
    // 32 k values up to 256 are a list the schema allows: the probe budget refuses them.
    const spread = Array.from({ length: 32 }, (_, i) => 8 * (i + 1));
    await refused(app, "/v1/probes/train", { ...sae, k: spread }, {
      status: 413,
      detail: /SAESERVE_MAX_PROBE_WORK/,
    });
    // Measured: the default methods on 2000 rows x 64 took 38 s.
    await refused(app, "/v1/probes/train", { activations: x, labels }, {
      status: 413,
      detail: /fitting the probes.*SAESERVE_MAX_PROBE_WORK/,
    });
    // Repeated methods are bounded too.
    await refused(app, "/v1/probes/train", {
      activations: x.slice(0, 8),
      labels: labels.slice(0, 8),
      methods: ["knn", "knn", "knn", "knn", "knn"],
    }, { status: 422, detail: /methods/ });
  });
});

Deno.test("cost: circuit discovery budgets epochs x rows x d_model x latents, and heads", async () => {
  await withApp(async (app) => {
    const headOutputs = Array.from(
      { length: 10 },
      (_, e) =>
        Array.from(
          { length: 8 },
          (_, h) => Array.from({ length: 16 }, (_, d) => Math.sin(e * 3.1 + h * 1.7 + d)),
        ),
    );
    const labels = headOutputs.map((_, e) => e % 2);
    // Measured: {epochs: 8000, latents: 1024} on 10 x 8 x 16 answered after 51 s.
    await refused(app, "/v1/circuits/discover", {
      head_outputs: headOutputs,
      labels,
      options: { epochs: 8000, latents: 1024 },
    }, { status: 413, detail: /SAESERVE_MAX_CIRCUIT_WORK/ });
    await refused(app, "/v1/circuits/discover", {
      head_outputs: headOutputs,
      labels,
      options: { epochs: 100_000, latents: 24 },
    }, { status: 413, detail: /SAESERVE_MAX_CIRCUIT_WORK/ });
    // Edge scoring compares every pair of heads: their count is bounded.
    const wide = [0, 1].map((e) => Array.from({ length: 513 }, (_, h) => [e + h * 1e-3]));
    await refused(app, "/v1/circuits/discover", { head_outputs: wide, labels: [0, 1] }, {
      status: 413,
      detail: /513 heads; at most 512/,
    });
    await refused(app, "/v1/circuits/discover", {
      head_outputs: headOutputs,
      labels,
      ground_truth: [3, 8],
    }, { status: 422, detail: /ground_truth/ });
  });
});

Deno.test("cost: steering positions are deduplicated and < rows; interventions are bounded", async () => {
  await withApp(async (app) => {
    const x = rows(6000);
    const path = "/v1/dictionaries/demo-topk/steer";
    // Measured: 6,000,000 repeated zeros over 6000 rows ran until the 58.9 s deadline.
    const zeros = (n: number) => `[${"0,".repeat(n - 1)}0]`;
    const body = (positions: string) =>
      spliced(
        { activations: x, interventions: [{ feature: 3, mode: "add", value: 4, positions: "@@" }] },
        positions,
      );
    await refused(app, path, body(zeros(6_000_000)), {
      status: 422,
      detail: /positions.*65536/,
      ms: 5000,
    });
    // Within the list bound, duplicates count once: only row 0 moves, and fast.
    const started = performance.now();
    const res = await postJson(app, { path: path, body: body(zeros(60_000)) });
    assert.equal(res.status, 200, await res.clone().text());
    assert.ok(performance.now() - started < 5000);
    const out = (await res.json()).activations as number[][];
    assert.notDeepEqual(out[0], x[0]);
    assert.deepEqual(
      out.slice(1, 50).map((r) => r.map((v) => Math.round(v * 1e3) / 1e3)),
      x.slice(1, 50),
    );
    await refused(app, path, {
      activations: x.slice(0, 3),
      interventions: [{ feature: 3, mode: "add", value: 1, positions: [0, 3] }],
    }, { status: 422, detail: /position 3 is outside \[0, 3\) \(rows 3\)/ });
    // Measured: 150k interventions in 7 MB took 9.5 s.
    const many = Array.from(
      { length: 150_000 },
      (_, i) => ({ feature: i % 256, mode: "add", value: 1 }),
    );
    await refused(app, path, { activations: x.slice(0, 2), interventions: many }, {
      status: 422,
      detail: /interventions.*4096/,
    });
  });
});

Deno.test("cost: encode bounds map_features (<= d_sae, deduplicated) and the answer's size", async () => {
  await withApp(async (app) => {
    const x = rows(1000);
    const path = "/v1/dictionaries/demo-topk/encode";
    // Measured: grid [1, 1] and ~10k map_features over 1000 rows: a 376 MB answer after 52 s.
    const features = Array.from({ length: 10_000 }, (_, i) => i);
    await refused(app, path, { activations: x, grid: [1, 1], map_features: features }, {
      status: 422,
      detail: /map_features entry 256 is outside \[0, 256\) \(d_sae 256\)/,
    });
    // Repeats count once.
    const repeated = features.map((f) => f % 16);
    const res = await postJson(app, {
      path: path,
      body: { activations: x, grid: [1, 1], map_features: repeated },
    });
    assert.equal(res.status, 200);
    const { maps } = await res.json();
    assert.equal(maps.length, 1000);
    assert.deepEqual(maps[0].features.map((m: { feature: number }) => m.feature), [
      ...Array(16).keys(),
    ]);
    await refused(app, path, { activations: x.slice(0, 10), grid: [2, 2] }, {
      status: 422,
      detail: /not a whole number of images/,
    });
  });
  // The answer budget, up front (maps, codes bounded by k) and after encoding (JumpReLU).
  await withApp(async (app) => {
    const x = rows(1000);
    await refused(app, "/v1/dictionaries/demo-topk/encode", {
      activations: x,
      grid: [1, 1],
      map_features: Array.from({ length: 256 }, (_, i) => i),
    }, { status: 413, detail: /the answer.*SAESERVE_MAX_ANSWER_MB/ });
    await refused(app, "/v1/dictionaries/demo-topk/encode", {
      activations: x,
      include: ["reconstruction", "error"],
    }, { status: 413, detail: /SAESERVE_MAX_ANSWER_MB/ });
  }, { maxAnswerBytes: 2 ** 20 });
  // JumpReLU codes have no bound before encoding: their real count is checked before writing.
  await withApp(async (app) => {
    const x = rows(1000);
    await refused(app, "/v1/dictionaries/demo-jumprelu/encode", { activations: x }, {
      status: 413,
      detail: /the answer is estimated at \d+ bytes, over the limit of 10000 bytes/,
    });
    const few = await postJson(app, {
      path: "/v1/dictionaries/demo-jumprelu/encode",
      body: {
        activations: x.slice(0, 10),
      },
    });
    assert.equal(few.status, 200);
  }, { maxAnswerBytes: 10_000 });
});

Deno.test("cost: top is at most d_sae (or the vocabulary) everywhere it exists", async () => {
  await withApp(async (app) => {
    const x = rows(2);
    // Measured: top 1e9 on a JumpReLU dictionary was a 500 (wasm memory cannot grow).
    for (const id of ["demo-jumprelu", "demo-topk", "demo-sparsify"]) {
      await refused(app, `/v1/dictionaries/${id}/encode`, { activations: x, top: 1_000_000_000 }, {
        status: 422,
        detail: /top 1000000000 is larger than d_sae \(256\)/,
      });
    }
    const ok = await postJson(app, {
      path: "/v1/dictionaries/demo-jumprelu/encode",
      body: {
        activations: x,
        top: 256,
      },
    });
    assert.equal(ok.status, 200);
    await refused(app, "/v1/dictionaries/demo-topk/features/logit-lens", {
      features: [1, 2],
      top: 500,
    }, { status: 422, detail: /top 500 is larger than the vocabulary size \(128\)/ });
    await refused(app, "/v1/dictionaries/demo-topk/features/semantic-probe", {
      activations: rows(8),
      grid: [2, 2],
      labels: [0, 1],
      top: 1000,
    }, { status: 422, detail: /top 1000 is larger than d_sae/ });
  });
});

/** A PNG whose header declares `width` x `height`, with `idat` bytes that are never decoded. */
function declaredPng(width: number, height: number, idat: number): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(data, 8);
    view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk("IHDR", ihdr),
    chunk("IDAT", new Uint8Array(idat).fill(0x5a)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/** A JPEG whose SOF0 declares `width` x `height` (nothing decodable after it). */
function declaredJpeg(width: number, height: number): Uint8Array {
  const app0 = [0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const sof = [0xff, 0xc0, 0, 17, 8, height >> 8, height & 255, width >> 8, width & 255, 3];
  for (let c = 1; c <= 3; c++) sof.push(c, 0x11, 0);
  return Uint8Array.from([0xff, 0xd8, ...app0, ...sof, 0xff, 0xd9]);
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

Deno.test("cost: heatmap images are sized from their header before decoding; size is bounded", async () => {
  await withApp(async (app) => {
    const path = "/v1/dictionaries/demo-topk/heatmap";
    const base = { activations: rows(4), grid: [2, 2], feature: 3 };
    // Measured: a 783 KB PNG declaring 16384 x 16384 was decoded (RSS +2.2 GB) first.
    const png = declaredPng(16384, 16384, 783_000);
    await refused(app, path, { ...base, image: base64(png) }, {
      status: 413,
      detail: /16384 x 16384 pixels, over the limit of 16777216 \(SAESERVE_MAX_IMAGE_PIXELS\)/,
    });
    await refused(app, path, { ...base, image: base64(declaredJpeg(16384, 16384)) }, {
      status: 413,
      detail: /SAESERVE_MAX_IMAGE_PIXELS/,
    });
    await refused(app, path, { ...base, image: base64(declaredPng(0, 7, 10)) }, {
      status: 422,
      detail: /empty image/,
    });
    await refused(app, path, { ...base, image: base64(Uint8Array.of(0xff, 0xd8, 0xff, 0xd9)) }, {
      status: 422,
      detail: /readable header/,
    });
  });
  await withApp(async (app) => {
    const path = "/v1/dictionaries/demo-topk/heatmap";
    const base = { activations: rows(64), grid: [8, 8], feature: 3 };
    await refused(app, path, { ...base, size: [101, 100] }, {
      status: 413,
      detail: /the 101 x 100 heatmap.*SAESERVE_MAX_IMAGE_PIXELS/,
    });
    // Without a size, 16 pixels per patch: 128 x 128.
    await refused(app, path, base, { status: 413, detail: /128 x 128/ });
    const ok = await postJson(app, { path: path, body: { ...base, size: [100, 100] } });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(ok.headers.get("content-type"), "image/png");
  }, { maxImagePixels: 10_000 });
});

Deno.test("cost: one work budget (rows x d_in x d_sae and the rest) for the live routes", async () => {
  // 12 rows of the demo dictionaries fit, 13 do not.
  const perRow = D_IN * 256 + 256;
  await withApp(async (app) => {
    const id = "demo-topk";
    const ok = await postJson(app, {
      path: `/v1/dictionaries/${id}/encode`,
      body: { activations: rows(12) },
    });
    assert.equal(ok.status, 200);
    const over = { status: 413, detail: /SAESERVE_MAX_WORK/ };
    await refused(app, `/v1/dictionaries/${id}/encode`, { activations: rows(13) }, over);
    await refused(app, `/v1/dictionaries/${id}/decode`, { codes: rows(13, 256) }, over);
    await refused(app, `/v1/dictionaries/${id}/steer`, {
      activations: rows(13),
      interventions: [{ feature: 1, mode: "clamp", value: 2 }],
    }, over);
    await refused(app, `/v1/dictionaries/${id}/features/input-score`, {
      features: [1],
      activations: rows(13),
      token_ids: Array(13).fill(1),
      example_ids: Array(13).fill(0),
    }, over);
    await refused(app, `/v1/dictionaries/${id}/features/stats`, { activations: rows(13) }, over);
    await refused(app, `/v1/dictionaries/${id}/features/output-score/prepare`, {
      features: Array.from({ length: 200 }, (_, i) => i),
      activations: rows(1)[0],
    }, over);
    await refused(app, "/v1/probes/train", {
      activations: rows(13),
      labels: Array.from({ length: 13 }, (_, r) => r % 2),
      dictionary: id,
      methods: ["sae"],
      k: [1],
    }, { status: 413, detail: /encoding the rows.*SAESERVE_MAX_WORK/ });
  }, { maxWork: 12 * perRow });
});
