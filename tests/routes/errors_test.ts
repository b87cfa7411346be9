import assert from "node:assert/strict";
import { encodeNpy } from "../../domain/npy.ts";
import { loadFixtures } from "../conformance.ts";
import { postJson, testApp } from "./helpers.ts";

const f = loadFixtures().find((e) => e.case === "saelens_standard")!;
const url = `/v1/dictionaries/${f.case}`;

async function expectProblem(res: Response, status: number, detail?: RegExp): Promise<void> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = JSON.parse(text);
  assert.equal(body.status, status);
  assert.equal(typeof body.type, "string");
  assert.equal(typeof body.title, "string");
  assert.equal(typeof body.detail, "string");
  if (detail) assert.match(body.detail, detail);
}

Deno.test("every kind of bad input gets its status and problem+json, and the service keeps serving", async () => {
  const { app, registry } = testApp({ maxBodyBytes: 4096 });
  const good = () => postJson(app, `${url}/encode`, { activations: f.x });
  assert.equal((await good()).status, 200);
  const row = f.x[0];
  const npy = (data: Float32Array, shape: number[]) =>
    app.request(`${url}/encode`, {
      method: "POST",
      headers: { "content-type": "application/x-npy" },
      body: encodeNpy(data, shape),
    });

  const cases: [string, () => Response | Promise<Response>, number, RegExp?][] = [
    ["malformed JSON", () => postJson(app, `${url}/encode`, '{"activations": [[1, 2'), 400, /JSON/],
    ["JSON not an object", () => postJson(app, `${url}/encode`, "[1,2]"), 400],
    ["missing activations", () => postJson(app, `${url}/encode`, { top: 3 }), 400, /activations/],
    ["string in activations", () => postJson(app, `${url}/encode`, { activations: [["a"]] }), 400],
    ["malformed npy", () =>
      app.request(`${url}/encode`, {
        method: "POST",
        headers: { "content-type": "application/x-npy" },
        body: new TextEncoder().encode("\x93NUMPY garbage"),
      }), 400],
    [
      "wrong width",
      () => postJson(app, `${url}/encode`, { activations: [row.slice(1)] }),
      422,
      /d_in/,
    ],
    [
      "ragged rows",
      () => postJson(app, `${url}/encode`, { activations: [row, row.slice(1)] }),
      422,
      /ragged/,
    ],
    ["no rows", () => postJson(app, `${url}/encode`, { activations: [] }), 422],
    [
      "Infinity via JSON overflow",
      () =>
        postJson(
          app,
          `${url}/encode`,
          `{"activations": [[${row.map((_, i) => i ? "0" : "1e999").join(",")}]]}`,
        ),
      422,
      /finite/,
    ],
    ["NaN in npy", () => npy(new Float32Array(row.length).fill(NaN), [1, row.length]), 422, /NaN/],
    ["3-D npy", () => npy(new Float32Array(row.length * 2), [1, 2, row.length]), 422],
    [
      "unknown dictionary",
      () => postJson(app, `/v1/dictionaries/nope/encode`, { activations: f.x }),
      404,
    ],
    [
      "unknown dictionary describe",
      () => Promise.resolve(app.request(`/v1/dictionaries/nope`)),
      404,
    ],
    [
      "path traversal id",
      () => postJson(app, `/v1/dictionaries/..%2F..%2Fetc/encode`, { activations: f.x }),
      404,
    ],
    [
      "traversal describe",
      () => Promise.resolve(app.request(`/v1/dictionaries/..%2Fsaelens_standard`)),
      404,
    ],
    [
      "feature out of range",
      () =>
        postJson(app, `${url}/steer`, {
          activations: f.x,
          interventions: [{ feature: f.d_sae, mode: "add", value: 1 }],
        }),
      422,
      /feature/,
    ],
    [
      "negative feature",
      () =>
        postJson(app, `${url}/steer`, {
          activations: f.x,
          interventions: [{ feature: -1, mode: "clamp", value: 1 }],
        }),
      422,
    ],
    [
      "unknown mode",
      () =>
        postJson(app, `${url}/steer`, {
          activations: f.x,
          interventions: [{ feature: 0, mode: "boost", value: 1 }],
        }),
      422,
      /mode/,
    ],
    [
      "position out of range",
      () =>
        postJson(app, `${url}/steer`, {
          activations: f.x,
          interventions: [{ feature: 0, mode: "add", value: 1, positions: [99] }],
        }),
      422,
    ],
    [
      "decode index out of range",
      () => postJson(app, `${url}/decode`, { indices: [[f.d_sae]], values: [[1]] }),
      422,
    ],
    [
      "decode mismatched lengths",
      () => postJson(app, `${url}/decode`, { indices: [[0, 1]], values: [[1]] }),
      422,
    ],
    ["top below 1", () => postJson(app, `${url}/encode`, { activations: f.x, top: 0 }), 422],
    [
      "unknown option",
      () => postJson(app, `${url}/encode`, { activations: f.x, colour: "red" }),
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
      () => postJson(app, `${url}/encode`, { activations: Array.from({ length: 200 }, () => row) }),
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
    await expectProblem(await send(), status, detail).catch((e) => {
      throw new Error(`${name}: ${e.message}`);
    });
    assert.equal((await good()).status, 200, `still serving after ${name}`);
  }
  assert.ok(registry.isLoaded(f.case), "the dictionary stayed loaded");
  registry.close();
});
