/**
 * The feature card (on the reference, WASM and, where an adapter exists, WebGPU backends, which
 * hold W_dec in their own memory) and the contrast endpoint over HTTP, against the numpy reference (tests/fixtures/make_search_fixtures.py, tests/fixtures/expected/search/search.json):
 * decoder norm, nearest features by decoder cosine, logit lens through a layernorm head, and
 * the contrast ranking of two sets of activation rows.
 * @module
 */

import assert from "node:assert/strict";
import { assertClose, random, randomWeights } from "../tests/conformance.ts";
import { postJson, testApp } from "../tests/helpers.ts";
import type { Backend } from "../backends/backend.ts";
import { referenceBackend } from "../backends/reference/mod.ts";
import { wasmBackend } from "../backends/wasm/mod.ts";
import { webgpuBackend } from "../backends/gpu/mod.ts";
import { JobRunner } from "../service/jobs/mod.ts";
import { nearestByDecoder } from "./feature_card.ts";

const hasAdapter = !!(await navigator.gpu?.requestAdapter().catch(() => null));
const BACKENDS: [string, () => Promise<Backend>][] = [
  ["reference", () => Promise.resolve(referenceBackend())],
  ["wasm", () => wasmBackend({ threads: 2 })],
  ...(hasAdapter ? [["webgpu", () => webgpuBackend()] as [string, () => Promise<Backend>]] : []),
];

const FX = JSON.parse(Deno.readTextFileSync(
  new URL("../tests/fixtures/expected/search/search.json", import.meta.url),
));
const TOL = 1e-5;

interface Scored {
  feature?: number;
  id?: number;
  [key: string]: unknown;
}

/** Same features (or token ids) in the same order, and `keys` within TOL. */
function assertRanked(
  got: readonly Scored[],
  want: readonly Scored[],
  options: { keys: readonly string[]; what: string },
): void {
  const ids = (list: readonly Scored[]) => list.map((s) => s.feature ?? s.id);
  assert.deepEqual(ids(got), ids(want), `${options.what}: order`);
  for (const key of options.keys) {
    assertClose(got.map((s) => s[key] as number), want.map((s) => s[key] as number), {
      tol: TOL,
      what: `${options.what} ${key}`,
    });
  }
}

for (const [name, open] of BACKENDS) {
  Deno.test(`feature cards on ${name} match numpy`, async () => {
    const backend = await open();
    const { app, registry } = testApp({ backend });
    try {
      for (const [dictionary, cards] of Object.entries(FX.cards) as [string, Scored[]][]) {
        await cardsMatch(app, { dictionary, cards, backend: name });
      }
    } finally {
      registry.close();
      await backend.close?.();
    }
  });
}

/** Every card of `dictionary` against numpy's. */
async function cardsMatch(
  app: ReturnType<typeof testApp>["app"],
  options: { dictionary: string; cards: readonly Scored[]; backend: string },
): Promise<void> {
  const { dictionary, cards } = options;
  for (const want of cards) {
    const what = `${dictionary} feature ${want.feature} on ${options.backend}`;
    const res = await app.request(`/v1/dictionaries/${dictionary}/features/${want.feature}`);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get("x-saeserve-backend"), options.backend);
    const body = await res.json();
    assert.equal(body.dictionary, dictionary);
    assert.equal(body.feature, want.feature);
    assert.deepEqual(body.explanations, []);
    assertClose([body.decoder_norm], [want.decoder_norm as number], {
      tol: TOL,
      what: `${what} norm`,
    });
    assertRanked(body.nearest, want.nearest as Scored[], {
      keys: ["cosine"],
      what: `${what} nearest`,
    });
    for (const n of body.nearest) assert.deepEqual(n.explanations, []);
    const lens = want.logit_lens as { top: Scored[]; bottom: Scored[] } | undefined;
    if (!lens) {
      assert.equal(body.logit_lens, undefined, `${what}: no head, no lens`);
      continue;
    }
    for (const side of ["top", "bottom"] as const) {
      assertRanked(body.logit_lens[side], lens[side], {
        keys: ["logit"],
        what: `${what} ${side}`,
      });
      assert.deepEqual(
        body.logit_lens[side].map((t: Scored) => t.token),
        lens[side].map((t) => t.token),
      );
    }
  }
}

Deno.test("feature card: a feature outside the dictionary or not an integer is refused", async () => {
  const { app, registry } = testApp();
  try {
    const outside = await app.request("/v1/dictionaries/saelens_standard/features/32");
    assert.equal(outside.status, 422, await outside.clone().text());
    await outside.body?.cancel();
    const malformed = await app.request("/v1/dictionaries/saelens_standard/features/1.5");
    assert.equal(malformed.status, 400, await malformed.clone().text());
    await malformed.body?.cancel();
    const negative = await app.request("/v1/dictionaries/saelens_standard/features/-1");
    assert.equal(negative.status, 400);
    assert.match((await negative.json()).detail, /non-negative integer, got "-1"/);
  } finally {
    registry.close();
  }
});

Deno.test("contrast endpoint ranks features as numpy does", async () => {
  const c = FX.contrast;
  const { app, registry } = testApp();
  try {
    const url = `/v1/dictionaries/${c.dictionary}/features/contrast`;
    const keys = ["positive_mean", "negative_mean", "difference"];
    const res = await postJson(app, {
      path: url,
      body: {
        positive: c.positive,
        negative: c.negative,
        top: 1000,
        both: true,
      },
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get("x-saeserve-backend"), "reference");
    const body = await res.json();
    assertRanked(body.positive, c.ranking.positive, { keys, what: "positive" });
    assertRanked(body.negative, c.ranking.negative, { keys, what: "negative" });
    for (const h of [...body.positive, ...body.negative]) assert.deepEqual(h.explanations, []);

    const cut = await (await postJson(app, {
      path: url,
      body: {
        positive: c.positive,
        negative: c.negative,
        top: 4,
      },
    })).json();
    assertRanked(cut.positive, c.ranking.positive.slice(0, 4), { keys, what: "top 4" });
    assert.deepEqual(cut.negative, []);
    // A wrong width is named by its field.
    const narrow = await postJson(app, {
      path: url,
      body: { positive: c.positive, negative: c.negative.map((r: number[]) => r.slice(1)) },
    });
    assert.equal(narrow.status, 422);
    assert.match(
      (await narrow.json()).detail,
      /^negative has \d+ columns; this dictionary has d_in/,
    );
  } finally {
    registry.close();
  }
});

Deno.test("feature card: an abort while a block is being ranked rejects once, leaving nothing unhandled", async () => {
  const w = randomWeights(8, 64, { activation: { kind: "relu", bEnc: random(64, 1) }, seed: 2 });
  const reference = referenceBackend();
  const prepared = await reference.prepare(w);
  const controller = new AbortController();
  let reads = 0;
  // The second block's read waits for the abort while the first block is being ranked.
  const backend: Backend = {
    ...reference,
    async decodeSparse(p, codes, options) {
      if (++reads === 2) {
        await new Promise((_, reject) =>
          options!.signal!.addEventListener("abort", () => reject(options!.signal!.reason))
        );
      }
      return await reference.decodeSparse(p, codes, options);
    },
  };
  const jobs = new JobRunner();
  try {
    const card = nearestByDecoder({ jobs }, { backend, prepared }, {
      direction: new Float32Array(8).fill(1 / Math.sqrt(8)),
      skip: 0,
      signal: controller.signal,
      blockBytes: 16 * 8 * 4, // four blocks of 16 rows
    });
    setTimeout(() => controller.abort(new Error("client left")), 50);
    await assert.rejects(card, /client left/);
    // Let the abandoned ranking settle: an unhandled rejection would fail this test.
    await new Promise((r) => setTimeout(r, 100));
    // Unhindered, the blocks give the one-pass answer.
    const whole = await nearestByDecoder({ jobs }, { backend: reference, prepared }, {
      direction: new Float32Array(8).fill(1 / Math.sqrt(8)),
      skip: 0,
      signal: new AbortController().signal,
      blockBytes: 16 * 8 * 4,
    });
    assert.equal(whole.length, 10);
  } finally {
    jobs.close();
  }
});

Deno.test("feature card: SAELens' sparsity.safetensors gives the feature's density; folders without one give none", async () => {
  const { app, registry } = testApp();
  try {
    // The fixture's file, read independently: one F32 log10 density per latent.
    const bytes = Deno.readFileSync(
      new URL("../tests/fixtures/dicts/saelens_standard/sparsity.safetensors", import.meta.url),
    );
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const start = 8 + headerLength;
    const want = new DataView(bytes.buffer).getFloat32(start + 5 * 4, true);
    const card = await (await app.request("/v1/dictionaries/saelens_standard/features/5")).json();
    assert.equal(card.statistics.log10_density, want);
    assert.ok(Math.abs(card.statistics.density - 10 ** want) <= 1e-12 * 10 ** want);
    const none = await (await app.request("/v1/dictionaries/saelens_legacy/features/5")).json();
    assert.equal(none.statistics, undefined);
  } finally {
    registry.close();
  }
});
