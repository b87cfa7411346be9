import assert from "node:assert/strict";
import { decodeNpy, encodeNpy } from "../domain/io/npy.ts";
import { assertClose, loadFixtures } from "../tests/conformance.ts";
import type { Backend } from "../backends/backend.ts";
import { webgpuBackend } from "../backends/gpu/mod.ts";
import { wasmBackend } from "../backends/wasm/mod.ts";
import { postJson, testApp } from "../tests/helpers.ts";

// Every route test runs on each backend; the wasm one is shared and closed by the last test.
const wasm = await wasmBackend({ threads: 2 });
const gpu = await webgpuBackend().catch(() => null); // llvmpipe in CI; skipped with no adapter
// The reference backend is testApp's default (undefined here).
const BACKENDS: [string, Backend | undefined][] = [
  ["reference", undefined],
  ["wasm", wasm],
  ...(gpu ? [["webgpu", gpu] as [string, Backend]] : []),
];

const fixtures = new Map(loadFixtures().map((f) => [f.case, f]));

for (const [name, backend] of BACKENDS) {
  Deno.test(`${name}: encode over JSON returns sorted sparse codes matching numpy, with the backend header`, async () => {
    const { app, registry } = testApp({ backend });
    const f = fixtures.get("saelens_topk_tie")!;
    const res = await postJson(app, {
      path: `/v1/dictionaries/${f.case}/encode`,
      body: { activations: f.x },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-saeserve-backend"), name);
    const body = await res.json();
    for (let r = 0; r < f.x.length; r++) {
      const dense = new Array(f.d_sae).fill(0);
      body.indices[r].forEach((ix: number, j: number) => (dense[ix] = body.values[r][j]));
      assertClose(dense, f.codes[r], { tol: 1e-5, what: `row ${r}` });
    }
    registry.close();
  });

  Deno.test(`${name}: encode honours top and include=reconstruction,error,metrics`, async () => {
    const { app, registry } = testApp({ backend });
    const f = fixtures.get("saelens_standard")!;
    const res = await postJson(app, {
      path: `/v1/dictionaries/${f.case}/encode`,
      body: {
        activations: f.x,
        top: 2,
        include: ["reconstruction", "error", "metrics"],
      },
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.ok(body.indices.every((ix: number[]) => ix.length <= 2));
    assertClose(body.reconstruction.flat(), f.reconstruction.flat(), {
      tol: 1e-5,
      what: "reconstruction",
    });
    const err = f.x.flat().map((v, i) => v - f.reconstruction.flat()[i]);
    assertClose(body.error.flat(), err, { tol: 1e-4, what: "error" });
    const l0 = f.codes.map((row) => row.filter((v) => v !== 0).length);
    assert.deepEqual(body.metrics.per_row.l0, l0);
    assert.ok(body.metrics.cosine > 0 && body.metrics.cosine <= 1);
    registry.close();
  });

  Deno.test(`${name}: encode with an .npy body and query options; steer and decode answer .npy`, async () => {
    const { app, registry } = testApp({ backend });
    const f = fixtures.get("gemma_scope")!;
    const npy = encodeNpy(Float32Array.from(f.x.flat()), [f.x.length, f.d_in]);
    const enc = await app.request(`/v1/dictionaries/${f.case}/encode?top=3&include=metrics`, {
      method: "POST",
      headers: { "content-type": "application/x-npy" },
      body: npy,
    });
    assert.equal(enc.status, 200);
    const body = await enc.json();
    assert.ok(body.metrics);
    assert.ok(body.indices.every((ix: number[]) => ix.length <= 3));

    const s = f.steer[0];
    const q = encodeURIComponent(JSON.stringify(s.interventions));
    const steer = await app.request(`/v1/dictionaries/${f.case}/steer?interventions=${q}`, {
      method: "POST",
      headers: { "content-type": "application/x-npy" },
      body: npy,
    });
    assert.equal(steer.status, 200);
    assert.equal(steer.headers.get("content-type"), "application/x-npy");
    const out = decodeNpy(new Uint8Array(await steer.arrayBuffer()));
    assert.deepEqual([...out.shape], [f.x.length, f.d_in]);
    assertClose(out.data, s.expected.flat(), { tol: 1e-5, what: "steer npy" });

    const dec = await postJson(app, {
      path: `/v1/dictionaries/${f.case}/decode`,
      body: {
        indices: f.decode.indices,
        values: f.decode.values,
      },
    });
    assert.equal(dec.status, 200);
    assertClose((await dec.json()).activations.flat(), f.decode.expected.flat(), {
      tol: 1e-5,
      what: "decode",
    });
    registry.close();
  });

  Deno.test(`${name}: a JSON request answers .npy when Accept asks for it; dense decode works`, async () => {
    const { app, registry } = testApp({ backend });
    const f = fixtures.get("sparsify_topk")!;
    const res = await app.request(`/v1/dictionaries/${f.case}/decode`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/x-npy" },
      body: JSON.stringify({ codes: f.codes }),
    });
    assert.equal(res.status, 200);
    const y = decodeNpy(new Uint8Array(await res.arrayBuffer()));
    // Dense decode of the encode codes has no skip/normalization: f @ W_dec + b_dec.
    assert.deepEqual([...y.shape], [f.x.length, f.d_in]);
    registry.close();
  });

  Deno.test(`${name}: steer over JSON matches every numpy steering case of every family`, async () => {
    const { app, registry } = testApp({ backend });
    // Transcoders refuse steering (routes/steer_transcoder_test.ts).
    for (const f of [...fixtures.values()].filter((f) => f.case !== "sparsify_transcode")) {
      for (const s of f.steer) {
        const res = await postJson(app, {
          path: `/v1/dictionaries/${f.case}/steer`,
          body: {
            activations: f.x,
            interventions: s.interventions,
          },
        });
        assert.equal(res.status, 200, `${f.case} ${await res.clone().text()}`);
        assertClose((await res.json()).activations.flat(), s.expected.flat(), {
          tol: 1e-5,
          what: `${f.case} steer`,
        });
      }
    }
    registry.close();
  });
}

Deno.test("route tests: close the shared wasm and webgpu backends (last test)", () => {
  wasm.close();
  gpu?.close();
});

Deno.test("large JSON answers (written on a job worker) equal the .npy answer", async () => {
  const { app } = testApp();
  const rows = 6000; // 6000 x 12 numbers: above the inline limit
  const codes = {
    indices: Array.from({ length: rows }, (_, r) => [r % 32, (r * 7) % 32]),
    values: Array.from({ length: rows }, (_, r) => [1 + (r % 5), -0.5]),
  };
  const json = await postJson(app, {
    path: "/v1/dictionaries/saelens_topk_rescale/decode",
    body: codes,
  });
  assert.equal(json.status, 200, await json.clone().text());
  assert.equal(json.headers.get("content-type"), "application/json");
  const got = (await json.json()).activations as number[][];
  const npy = await app.request("/v1/dictionaries/saelens_topk_rescale/decode", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/x-npy" },
    body: JSON.stringify(codes),
  });
  const m = decodeNpy(new Uint8Array(await npy.arrayBuffer()));
  assert.equal(got.length, rows);
  assert.deepEqual(got.flat(), Array.from(m.data as Float32Array));
});

Deno.test("first-hour traps: query options with a JSON body, steer without a value, decode's two forms and encode's -1 padding", async () => {
  const { app, registry } = testApp();
  const f = fixtures.get("saelens_standard")!;
  const base = `/v1/dictionaries/${f.case}`;
  const problem = async (res: Response) => ({ status: res.status, ...await res.json() });

  // A JSON request's options go in its body: a query string is refused, not ignored.
  const queried = await problem(
    await postJson(app, { path: `${base}/encode?top=2&foo=1`, body: { activations: f.x } }),
  );
  assert.equal(queried.status, 400);
  assert.match(
    queried.detail,
    /options go in the JSON object, not the query string \(got top, foo\)/,
  );
  const decodeQueried = await postJson(app, {
    path: `${base}/decode?bias=false`,
    body: { codes: f.codes },
  });
  assert.equal(decodeQueried.status, 400);

  // ablate with a value other than 0 would ignore it; a value beyond f32 is named.
  for (
    const [iv, pattern] of [
      [{ feature: 1, mode: "ablate", value: 5 }, /ablate sets the latent to 0 and takes no value/],
      [
        { feature: 1, mode: "clamp", value: 1e39 },
        /interventions\[0\]\.value 1e\+39 overflows f32/,
      ],
    ] as const
  ) {
    const res = await problem(
      await postJson(app, {
        path: `${base}/steer`,
        body: { activations: f.x, interventions: [iv] },
      }),
    );
    assert.equal(res.status, 422, JSON.stringify(iv));
    assert.match(res.detail, pattern);
  }
  // Every steering mode but ablate needs a value; ablate takes none.
  for (const mode of ["add", "clamp", "scale", "orthogonal", "cap"]) {
    const res = await problem(
      await postJson(app, {
        path: `${base}/steer`,
        body: {
          activations: f.x,
          interventions: [{ feature: 1, mode }],
        },
      }),
    );
    assert.equal(res.status, 400, mode);
    assert.match(res.detail, new RegExp(`mode ${mode} needs a value`));
  }
  const ablated = await postJson(app, {
    path: `${base}/steer`,
    body: {
      activations: f.x,
      interventions: [{ feature: 1, mode: "ablate" }],
    },
  });
  assert.equal(ablated.status, 200);

  // Decode names its two forms when the body holds both or neither.
  const both = await problem(
    await postJson(app, {
      path: `${base}/decode`,
      body: { codes: f.codes, indices: [[1]], values: [[1]] },
    }),
  );
  assert.equal(both.status, 400);
  assert.match(
    both.detail,
    /either \{indices, values\} \(sparse\) or \{codes\} \(dense\), not both/,
  );
  const neither = await problem(
    await postJson(app, { path: `${base}/decode`, body: { activations: f.x } }),
  );
  assert.equal(neither.status, 400);
  assert.match(neither.detail, /decode takes \{indices, values\}/);
  const fractional = await problem(
    await postJson(app, { path: `${base}/decode`, body: { indices: [[3.5]], values: [[1]] } }),
  );
  assert.equal(fractional.status, 400);
  assert.match(fractional.detail, /indices/);

  // Encode's padded answer decodes as is: (-1, 0) pairs are skipped, other -1s refused.
  const enc =
    await (await postJson(app, { path: `${base}/encode`, body: { activations: f.x, top: 3 } }))
      .json();
  const width = Math.max(...enc.indices.map((ix: number[]) => ix.length)) + 2;
  const pad = (rows: number[][], fill: number) =>
    rows.map((row) => [...row, ...new Array(width - row.length).fill(fill)]);
  const plain = await (await postJson(app, { path: `${base}/decode`, body: enc })).json();
  const padded = await postJson(app, {
    path: `${base}/decode`,
    body: {
      indices: pad(enc.indices, -1),
      values: pad(enc.values, 0),
    },
  });
  assert.equal(padded.status, 200);
  assert.deepEqual((await padded.json()).activations, plain.activations);
  const wrongPad = await problem(
    await postJson(app, {
      path: `${base}/decode`,
      body: { indices: [[2, -1]], values: [[1, 0.5]] },
    }),
  );
  assert.equal(wrongPad.status, 422);
  assert.match(wrongPad.detail, /-1 is padding only with value 0/);

  // include is a list in JSON (a comma list only in a query string); vision options need a grid.
  const stringInclude = await problem(
    await postJson(app, { path: `${base}/encode`, body: { activations: f.x, include: "metrics" } }),
  );
  assert.equal(stringInclude.status, 400);
  assert.match(stringInclude.detail, /include/);
  for (
    const [path, body, name] of [
      [`${base}/encode`, { activations: f.x, skip_tokens: 2 }, "skip_tokens"],
      [`${base}/encode`, { activations: f.x, maps_top: 3 }, "maps_top"],
      [`${base}/encode`, { activations: f.x, map_features: [1] }, "map_features"],
      [
        `${base}/steer`,
        {
          activations: f.x,
          interventions: [{ feature: 1, mode: "add", value: 1 }],
          skip_tokens: 1,
        },
        "skip_tokens",
      ],
    ] as const
  ) {
    const res = await problem(await postJson(app, { path, body }));
    assert.equal(res.status, 422, `${path} ${name}`);
    assert.equal(res.detail, `${name} applies to vision grids only: give grid [h, w] too`);
  }
  registry.close();
});
