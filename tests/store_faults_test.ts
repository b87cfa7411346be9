/**
 * Store faults over HTTP with a real file store on a temporary copy of fixture dictionaries:
 * the store going away leaves loaded dictionaries serving and gives 503 for the rest (and the
 * service recovers when it returns); a weights file whose sha256 does not match saeserve.json
 * is refused with a problem+json naming the file, counted in /metrics, while other
 * dictionaries keep serving.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileStore } from "../service/store/file.ts";
import { assertClose, type Fixture, loadFixtures } from "./conformance.ts";
import { FIXTURE_DICTS, postJson, testApp } from "./helpers.ts";
import { expectProblem } from "./problem.ts";

const FIXTURES = new Map(loadFixtures().map((f) => [f.case, f]));

/** A temp store holding copies of the named fixture dictionary folders. */
async function tempStore(ids: string[]): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "saeserve-store-faults-" });
  for (const id of ids) {
    await Deno.mkdir(join(root, id));
    for await (const e of Deno.readDir(join(FIXTURE_DICTS, id))) {
      if (e.isFile) await Deno.copyFile(join(FIXTURE_DICTS, id, e.name), join(root, id, e.name));
    }
  }
  return root;
}

/** Encode the fixture's rows and compare with the numpy codes. */
async function encodeMatches(app: ReturnType<typeof testApp>["app"], f: Fixture) {
  const res = await postJson(app, {
    path: `/v1/dictionaries/${f.case}/encode`,
    body: {
      activations: f.x,
      include: ["reconstruction"],
    },
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${f.case}: ${text}`);
  const body = JSON.parse(text);
  for (let r = 0; r < f.x.length; r++) {
    const dense = new Array(f.d_sae).fill(0);
    body.indices[r].forEach((ix: number, j: number) => (dense[ix] = body.values[r][j]));
    assertClose(dense, f.codes[r], { tol: 1e-4, what: `${f.case} codes row ${r}` });
  }
  assertClose(body.reconstruction.flat(), f.reconstruction.flat(), {
    tol: 1e-4,
    what: `${f.case} reconstruction`,
  });
}

Deno.test("store down: loaded dictionaries keep serving, not-yet-loaded ones get 503, and it recovers", async () => {
  const root = await tempStore(["saelens_standard", "gemma_scope"]);
  const gone = `${root}-gone`;
  const { app, registry } = testApp({ store: fileStore(root) });
  const loaded = FIXTURES.get("saelens_standard")!;
  const other = FIXTURES.get("gemma_scope")!;
  try {
    await encodeMatches(app, loaded);
    assert.ok(registry.isLoaded("saelens_standard"));
    assert.ok(!registry.isLoaded("gemma_scope"));

    // The whole store goes away (an unmounted volume, a deleted bucket).
    await Deno.rename(root, gone);

    // The loaded dictionary computes from memory: same numbers, several times over.
    for (let i = 0; i < 3; i++) await encodeMatches(app, loaded);
    const steer = await postJson(app, {
      path: `/v1/dictionaries/${loaded.case}/steer`,
      body: {
        activations: loaded.x,
        interventions: loaded.steer[0].interventions,
      },
    });
    assert.equal(steer.status, 200, await steer.clone().text());
    assertClose((await steer.json()).activations.flat(), loaded.steer[0].expected.flat(), {
      tol: 1e-4,
      what: "steer while the store is down",
    });

    // Describing it and the feature routes (which read its saeserve.json metadata) answer from
    // memory too.
    const described = await app.request(`/v1/dictionaries/${loaded.case}`);
    assert.equal(described.status, 200, await described.clone().text());
    const d = await described.json();
    assert.equal(d.loaded, true);
    assert.equal(d.d_sae, loaded.d_sae);
    const stats = await postJson(app, {
      path: `/v1/dictionaries/${loaded.case}/features/stats`,
      body: {
        activations: loaded.x,
      },
    });
    assert.equal(stats.status, 200, await stats.clone().text());
    assert.equal((await stats.json()).rows, loaded.x.length);
    const vector = await postJson(app, {
      path: `/v1/dictionaries/${loaded.case}/steering-vector`,
      body: {
        features: [{ feature: 1, strength: 1 }],
      },
    });
    assert.equal(vector.status, 200, await vector.clone().text());
    assert.equal((await vector.json()).d, loaded.d_in);

    // The other one cannot be loaded: the store is unavailable (503), not "no such id" (404).
    // The file store reports a missing root as "unavailable"; only a missing dictionary folder
    // inside a present root is a 404.
    await expectProblem(await app.request(`/v1/dictionaries/${other.case}`), {
      status: 503,
      detail: /not a folder/,
    });
    await expectProblem(
      await postJson(app, {
        path: `/v1/dictionaries/${other.case}/encode`,
        body: { activations: other.x },
      }),
      { status: 503 },
    );
    assert.ok(!registry.isLoaded(other.case));
    assert.equal((await app.request("/readyz")).status, 503, "not ready without the store");
    assert.equal((await app.request("/healthz")).status, 200, "the process is up");
    // Still serving after the failures.
    await encodeMatches(app, loaded);

    // The store comes back: the other dictionary loads and is right.
    await Deno.rename(gone, root);
    await encodeMatches(app, other);
    assert.ok(registry.isLoaded(other.case));

    // A dictionary folder missing from a present store is a 404.
    await Deno.remove(join(root, "gemma_scope"), { recursive: true });
    registry.close(); // drop the loaded copies so the next request has to look
    await expectProblem(
      await postJson(app, {
        path: `/v1/dictionaries/${other.case}/encode`,
        body: { activations: other.x },
      }),
      { status: 404 },
    );
  } finally {
    registry.close();
    await Deno.remove(root, { recursive: true }).catch(() => {});
    await Deno.remove(gone, { recursive: true }).catch(() => {});
  }
});

Deno.test("a weights file whose sha256 does not match saeserve.json is refused, reported and counted", async () => {
  const id = "saelens_standard_f16";
  const root = await tempStore([id, "saelens_standard"]);
  const { app, registry } = testApp({ store: fileStore(root) });
  try {
    const sidecar = JSON.parse(await Deno.readTextFile(join(root, id, "saeserve.json")));
    const want = sidecar.sha256["sae_weights.safetensors"];
    assert.match(want, /^[0-9a-f]{64}$/);
    // Flip the lowest bit of the last f16 value: the file still parses, the hash changes.
    const path = join(root, id, "sae_weights.safetensors");
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 2] ^= 0x01;
    await Deno.writeFile(path, bytes);

    const f = FIXTURES.get(id)!;
    // The second attempt gets the remembered failure (with Retry-After), not a second read.
    for (let attempt = 1; attempt <= 2; attempt++) {
      const res = await postJson(app, {
        path: `/v1/dictionaries/${id}/encode`,
        body: { activations: f.x },
      });
      assert.equal(res.headers.get("retry-after"), "1");
      const body = await expectProblem(res, {
        status: 503,
        detail: /sae_weights\.safetensors: sha256 [0-9a-f]{64} does not match saeserve\.json/,
      });
      assert.ok(body.detail.includes(`${id}/sae_weights.safetensors`), body.detail);
      assert.ok(body.detail.includes(want), "names the expected hash");
      assert.ok(!registry.isLoaded(id), "a corrupt dictionary is never served");
    }

    const metrics = await (await app.request("/metrics")).text();
    assert.match(metrics, /^saeserve_dictionary_loads_total\{result="integrity"\} 1$/m);
    assert.doesNotMatch(metrics, /^saeserve_dictionary_loads_total\{result="ok"\}/m);

    // An unrelated dictionary in the same store serves, and the failed loads stay counted.
    await encodeMatches(app, FIXTURES.get("saelens_standard")!);
    const after = await (await app.request("/metrics")).text();
    assert.match(after, /^saeserve_dictionary_loads_total\{result="ok"\} 1$/m);
    assert.match(after, /^saeserve_dictionary_loads_total\{result="integrity"\} 1$/m);

    // Restoring the file (same size, so the listing is unchanged) makes it load once the
    // 1 s backoff is over: the refusal was about the bytes.
    bytes[bytes.length - 2] ^= 0x01;
    await Deno.writeFile(path, bytes);
    await new Promise((r) => setTimeout(r, 1000));
    await encodeMatches(app, f);
  } finally {
    registry.close();
    await Deno.remove(root, { recursive: true });
  }
});
