/**
 * /v1/aligned over HTTP against the numpy reference (tests/fixtures/make_aligned_fixtures.py):
 * global and local TopK encode with Jaccard, a stream missing from the request, translation,
 * concept alignment, and clear errors.
 * @module
 */

import assert from "node:assert/strict";
import { assertClose } from "../tests/conformance.ts";
import { postJson, testApp } from "../tests/helpers.ts";

const E = JSON.parse(
  Deno.readTextFileSync(
    new URL("../tests/fixtures/expected/aligned/aligned_tiny.json", import.meta.url),
  ),
);
const URL_BASE = "/v1/aligned/aligned_tiny";

function sameCodes(
  got: Record<string, number[][]>,
  gotValues: Record<string, number[][]>,
  want: Record<string, { indices: number[][]; values: number[][] }>,
) {
  for (const [name, w] of Object.entries(want)) {
    assert.deepEqual(got[name], w.indices, `${name} indices`);
    w.values.forEach((row, r) =>
      assertClose(gotValues[name][r], row, { tol: 1e-5, what: `${name} row ${r}` })
    );
  }
}

Deno.test("aligned: global and local TopK encode match numpy; Jaccard is per row", async () => {
  const { app, registry } = testApp();
  try {
    for (const mode of ["global", "local"] as const) {
      const res = await postJson(app, {
        path: `${URL_BASE}/encode`,
        body: { streams: E.inputs, topk: mode },
      });
      assert.equal(res.status, 200, await res.clone().text());
      const body = await res.json();
      sameCodes(body.indices, body.values, E[mode]);
      assert.equal(body.jaccard.length, 5);
      if (mode === "global") {
        // Shared indices: streams differ only where a value is not positive.
        assert.ok(body.jaccard.every((j: number) => j > 0.3 && j <= 1));
      }
    }
    // Only the present streams vote.
    const two = await postJson(app, {
      path: `${URL_BASE}/encode`,
      body: {
        streams: { a: E.inputs.a, b: E.inputs.b },
      },
    });
    const body = await two.json();
    sameCodes(body.indices, body.values, E.global_ab);
  } finally {
    registry.close();
  }
});

Deno.test("aligned: translation and concept alignment", async () => {
  const { app, registry } = testApp();
  try {
    const res = await postJson(app, {
      path: `${URL_BASE}/translate`,
      body: {
        from: "a",
        to: "c",
        activations: E.inputs.a,
      },
    });
    assert.equal(res.status, 200, await res.clone().text());
    assertClose((await res.json()).activations.flat(), E.translate_a_to_c.flat(), {
      tol: 1e-5,
      what: "translate",
    });
    const labels = Array.from({ length: 5 }, (_, r) => [r % 2, 1 - (r % 2), 1]);
    const ca = await postJson(app, {
      path: `${URL_BASE}/concept-alignment`,
      body: { streams: E.inputs, labels },
    });
    assert.equal(ca.status, 200, await ca.clone().text());
    const c = await ca.json();
    assert.equal(c.per_latent.length, 12);
    assert.ok(c.mean_jaccard > 0 && c.mean_jaccard <= 1);
  } finally {
    registry.close();
  }
});

Deno.test("aligned: unknown streams, width mismatches and unknown ids are clear errors", async () => {
  const { app, registry } = testApp();
  try {
    const bad: [string, unknown, number, RegExp][] = [
      [`${URL_BASE}/encode`, { streams: { zz: [[1]] } }, 422, /unknown stream/],
      [`${URL_BASE}/encode`, { streams: { a: [[1, 2]] } }, 422, /takes 6 columns/],
      [
        `${URL_BASE}/translate`,
        { from: "a", to: "q", activations: E.inputs.a },
        422,
        /unknown stream/,
      ],
      [
        `${URL_BASE}/concept-alignment`,
        { streams: { a: E.inputs.a }, labels: E.inputs.a.map(() => [1, 0]) },
        422,
        /at least two \(got 1\)/,
      ],
      [
        `${URL_BASE}/concept-alignment`,
        { streams: E.inputs, labels: E.inputs.a.map((_: unknown, r: number) => [r ? 1 : -1, 0]) },
        422,
        /labels\[0\]\[0\] is -1: labels are multi-hot/,
      ],
      [
        `${URL_BASE}/concept-alignment`,
        { streams: E.inputs, labels: E.inputs.a.map(() => [1.7e308, 0]) },
        422,
        /labels\[0\]\[0\] is 1\.7e\+308: .* within f32/,
      ],
      [
        `${URL_BASE}/concept-alignment`,
        { streams: E.inputs, labels: E.inputs.a.map((_: unknown, r: number) => r ? [1, 0] : [1]) },
        422,
        /labels row 1 has 2 classes, row 0 has 1/,
      ],
      [
        "/v1/aligned/saelens_standard/encode",
        { streams: { a: [[1]] } },
        404,
        /no aligned dictionary/,
      ],
      [
        "/v1/dictionaries/aligned_tiny/encode",
        { activations: [[1]] },
        404,
        /no dictionary "aligned_tiny" in the store \(it is an aligned dictionary: use \/v1\/aligned\/aligned_tiny\)/,
      ],
    ];
    for (const [url, body, status, pattern] of bad) {
      const res = await postJson(app, { path: url, body: body });
      assert.equal(res.status, status, url);
      assert.match((await res.json()).detail, pattern);
    }
  } finally {
    registry.close();
  }
});
