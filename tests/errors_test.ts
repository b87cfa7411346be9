import assert from "node:assert/strict";
import { bytesSource } from "../domain/io/byte_source.ts";
import { encodeNpy } from "../domain/io/npy.ts";
import { loadNpzArray, readNpzDirectory } from "../domain/io/npz.ts";
import { DETAIL_MAX_CHARS, problem, truncateDetail } from "../routes/problem.ts";
import { loadFixtures } from "./conformance.ts";
import { postJson, testApp } from "./helpers.ts";
import { expectProblem } from "./problem.ts";

const f = loadFixtures().find((e) => e.case === "saelens_standard")!;
const url = `/v1/dictionaries/${f.case}`;

Deno.test("every kind of bad input gets its status and problem+json, and the service keeps serving", async () => {
  const { app, registry } = testApp({ maxBodyBytes: 4096 });
  const good = () => postJson(app, { path: `${url}/encode`, body: { activations: f.x } });
  assert.equal((await good()).status, 200);
  const row = f.x[0];
  const npy = (data: Float32Array, shape: number[]) =>
    app.request(`${url}/encode`, {
      method: "POST",
      headers: { "content-type": "application/x-npy" },
      body: encodeNpy(data, shape),
    });

  const cases: [string, () => Response | Promise<Response>, number, RegExp?][] = [
    [
      "malformed JSON",
      () => postJson(app, { path: `${url}/encode`, body: '{"activations": [[1, 2' }),
      400,
      /JSON/,
    ],
    ["JSON not an object", () => postJson(app, { path: `${url}/encode`, body: "[1,2]" }), 400],
    [
      "missing activations",
      () => postJson(app, { path: `${url}/encode`, body: { top: 3 } }),
      400,
      /activations/,
    ],
    [
      "string in activations",
      () => postJson(app, { path: `${url}/encode`, body: { activations: [["a"]] } }),
      400,
    ],
    ["malformed npy", () =>
      app.request(`${url}/encode`, {
        method: "POST",
        headers: { "content-type": "application/x-npy" },
        body: new TextEncoder().encode("\x93NUMPY garbage"),
      }), 400],
    [
      "wrong width",
      () => postJson(app, { path: `${url}/encode`, body: { activations: [row.slice(1)] } }),
      422,
      /d_in/,
    ],
    [
      "ragged rows",
      () => postJson(app, { path: `${url}/encode`, body: { activations: [row, row.slice(1)] } }),
      422,
      /ragged/,
    ],
    ["no rows", () => postJson(app, { path: `${url}/encode`, body: { activations: [] } }), 422],
    [
      "Infinity via JSON overflow",
      () =>
        postJson(app, {
          path: `${url}/encode`,
          body: `{"activations": [[${row.map((_, i) => i ? "0" : "1e999").join(",")}]]}`,
        }),
      422,
      /literal beyond f64's range \(it reads as infinity\), which overflows f32/,
    ],
    ["NaN in npy", () => npy(new Float32Array(row.length).fill(NaN), [1, row.length]), 422, /NaN/],
    [
      "Infinity in npy",
      () => npy(new Float32Array(row.length).fill(Infinity), [1, row.length]),
      422,
      /\[0\]\[0\] is infinite/,
    ],
    [
      "a finite number past the f32 range",
      () =>
        postJson(app, {
          path: `${url}/encode`,
          body: { activations: [row.map((v, i) => i === 2 ? 1e39 : v)] },
        }),
      422,
      /activations\[0\]\[2\] is 1e\+39, which overflows f32/,
    ],
    [
      "sparse decode value past the f32 range",
      () =>
        postJson(app, { path: `${url}/decode`, body: { indices: [[0, 1]], values: [[1, -1e39]] } }),
      422,
      /values\[0\]\[1\] is -1e\+39, which overflows f32/,
    ],
    [
      "top above d_sae",
      () => postJson(app, { path: `${url}/encode`, body: { activations: f.x, top: 9999 } }),
      422,
      new RegExp(`top 9999 is larger than d_sae \\(${f.d_sae}\\)`),
    ],
    [
      "grid maps asked for in an .npz",
      () =>
        app.request(`${url}/encode`, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/x-npz" },
          body: JSON.stringify({ activations: [row, row], grid: [1, 1], skip_tokens: 1 }),
        }),
      422,
      /JSON only/,
    ],
    ["3-D npy", () => npy(new Float32Array(row.length * 2), [1, 2, row.length]), 422],
    [
      "unknown dictionary",
      () => postJson(app, { path: `/v1/dictionaries/nope/encode`, body: { activations: f.x } }),
      404,
    ],
    [
      "unknown dictionary describe",
      () => Promise.resolve(app.request(`/v1/dictionaries/nope`)),
      404,
    ],
    [
      "path traversal id",
      () =>
        postJson(app, {
          path: `/v1/dictionaries/..%2F..%2Fetc/encode`,
          body: { activations: f.x },
        }),
      404,
    ],
    [
      "an id with an unencoded slash",
      () =>
        postJson(app, {
          path: `/v1/dictionaries/gemma-scope/layer_20/encode`,
          body: { activations: f.x },
        }),
      404,
      /no route POST \/v1\/dictionaries\/gemma-scope\/layer_20\/encode; an id that holds \/ goes in one path segment, URL-encoded \(\/ as %2F\)/,
    ],
    [
      "traversal describe",
      () => Promise.resolve(app.request(`/v1/dictionaries/..%2Fsaelens_standard`)),
      404,
    ],
    [
      "feature out of range",
      () =>
        postJson(app, {
          path: `${url}/steer`,
          body: {
            activations: f.x,
            interventions: [{ feature: f.d_sae, mode: "add", value: 1 }],
          },
        }),
      422,
      /feature/,
    ],
    [
      "negative feature",
      () =>
        postJson(app, {
          path: `${url}/steer`,
          body: {
            activations: f.x,
            interventions: [{ feature: -1, mode: "clamp", value: 1 }],
          },
        }),
      422,
    ],
    [
      "unknown mode",
      () =>
        postJson(app, {
          path: `${url}/steer`,
          body: {
            activations: f.x,
            interventions: [{ feature: 0, mode: "boost", value: 1 }],
          },
        }),
      422,
      /mode/,
    ],
    [
      "position out of range",
      () =>
        postJson(app, {
          path: `${url}/steer`,
          body: {
            activations: f.x,
            interventions: [{ feature: 0, mode: "add", value: 1, positions: [99] }],
          },
        }),
      422,
    ],
    [
      "decode index out of range",
      () => postJson(app, { path: `${url}/decode`, body: { indices: [[f.d_sae]], values: [[1]] } }),
      422,
    ],
    [
      "decode mismatched lengths",
      () => postJson(app, { path: `${url}/decode`, body: { indices: [[0, 1]], values: [[1]] } }),
      422,
    ],
    [
      "top below 1",
      () => postJson(app, { path: `${url}/encode`, body: { activations: f.x, top: 0 } }),
      422,
    ],
    [
      "unknown option",
      () => postJson(app, { path: `${url}/encode`, body: { activations: f.x, colour: "red" } }),
      400,
    ],
    [
      "unsupported media type",
      () =>
        app.request(`${url}/encode`, {
          method: "POST",
          headers: { "content-type": "text/csv" },
          body: "1,2,3",
        }),
      415,
    ],
    ["no content type", () => app.request(`${url}/encode`, { method: "POST", body: "{}" }), 415],
    [
      "oversized body by content-length",
      () =>
        postJson(app, {
          path: `${url}/encode`,
          body: { activations: Array.from({ length: 200 }, () => row) },
        }),
      413,
    ],
    ["oversized chunked body", () =>
      app.request(`${url}/encode`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: new ReadableStream({
          start(c) {
            for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(1000).fill(32));
            c.close();
          },
        }),
      }), 413],
    ["unknown route", () => Promise.resolve(app.request(`/v2/nothing`)), 404],
  ];
  for (const [name, send, status, detail] of cases) {
    await expectProblem(await send(), { status, detail }).catch((e) => {
      throw new Error(`${name}: ${e.message}`);
    });
    assert.equal((await good()).status, 200, `still serving after ${name}`);
  }
  assert.ok(registry.isLoaded(f.case), "the dictionary stayed loaded");
  registry.close();
});

Deno.test("error details never echo request content at length: a 2 MB unknown key gives a short 400", async () => {
  const { app, registry } = testApp();
  try {
    const key = "k".repeat(2_000_000);
    const res = await postJson(app, {
      path: `${url}/encode`,
      body: `{"activations": [[1]], "${key}": 1}`,
    });
    const text = await res.text();
    assert.equal(res.status, 400);
    assert.ok(text.length < 1000, `a ${text.length}-character answer`);
    const problem = JSON.parse(text);
    assert.match(problem.detail, /^option: unknown option "k+\u2026/);
    assert.match(problem.detail, /\u2026 \(\d{7} characters\)/);
    // A long route or id is cut too.
    const long = await app.request(`/v1/nope/${"x".repeat(50_000)}`);
    assert.equal(long.status, 404);
    const detail = (await long.json()).detail as string;
    assert.ok(detail.length <= DETAIL_MAX_CHARS + 30, `${detail.length} characters`);
    assert.match(detail, /\(\d+ characters\)$/);
    const dict = await app.request(`/v1/dictionaries/${"y".repeat(50_000)}`);
    assert.ok((await dict.text()).length < 1000);
  } finally {
    registry.close();
  }
});

Deno.test("truncateDetail keeps short text, cuts long text with an ellipsis and its length, never splits a surrogate pair", () => {
  assert.equal(truncateDetail("short"), "short");
  assert.equal(truncateDetail("x".repeat(DETAIL_MAX_CHARS)), "x".repeat(DETAIL_MAX_CHARS));
  assert.equal(truncateDetail("abcdef", { maxChars: 3 }), "abc\u2026 (6 characters)");
  // "😀" is two UTF-16 code units: cutting after its first would leave a lone surrogate.
  assert.equal(truncateDetail("ab\u{1F600}cd", { maxChars: 3 }), "ab\u2026 (6 characters)");
  const p = problem({
    status: 400,
    detail: "z".repeat(10_000),
    extra: { note: "n".repeat(10_000), retry_after: 3 },
  });
  assert.ok(p.detail.length < DETAIL_MAX_CHARS + 30);
  assert.ok((p.note as string).length < DETAIL_MAX_CHARS + 30);
  assert.equal(p.retry_after, 3);
});

Deno.test("include is honoured in the .npz answer: metrics arrays beside the codes", async () => {
  const { app, registry } = testApp();
  try {
    const body = { activations: f.x, include: ["reconstruction", "error", "metrics"] };
    const json = await (await postJson(app, { path: `${url}/encode`, body: body })).json();
    const res = await app.request(`${url}/encode`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/x-npz" },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    const source = bytesSource(new Uint8Array(await res.arrayBuffer()));
    const members = await readNpzDirectory(source);
    assert.deepEqual([...members.keys()].sort(), [
      "error",
      "indices",
      "metrics_cosine",
      "metrics_fvu",
      "metrics_l0",
      "metrics_mse",
      "metrics_per_row_cosine",
      "metrics_per_row_l0",
      "metrics_per_row_mse",
      "reconstruction",
      "values",
    ]);
    const read = async (name: string) => await loadNpzArray(source, members.get(name)!);
    const l0 = await read("metrics_l0");
    assert.deepEqual(l0.shape, []);
    assert.ok(Math.abs(l0.data[0] - json.metrics.l0) < 1e-5);
    const mse = await read("metrics_mse");
    assert.ok(Math.abs(mse.data[0] - json.metrics.mse) <= 1e-6 * Math.max(1, json.metrics.mse));
    const perRow = await read("metrics_per_row_cosine");
    assert.deepEqual(perRow.shape, [f.x.length]);
    perRow.data.forEach((v, r) => assert.ok(Math.abs(v - json.metrics.per_row.cosine[r]) < 1e-5));
    // The header holds the aggregates exactly as the JSON answer does, and nothing per row.
    const { l0: jl0, mse: jmse, fvu, cosine } = json.metrics;
    assert.deepEqual(JSON.parse(res.headers.get("x-saeserve-metrics")!), {
      l0: jl0,
      mse: jmse,
      fvu,
      cosine,
    });
  } finally {
    registry.close();
  }
});
