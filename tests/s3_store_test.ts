/**
 * The service over a real S3 server (s3rver on a loopback port, SigV4-signed requests):
 * fixture dictionaries round-trip through it and answer with numpy's numbers, and a store
 * that stops in the middle of loading a dictionary gives 503, after which the next request,
 * once the store is back, succeeds.
 * @module
 */

import assert from "node:assert/strict";
import type { ByteSource } from "../domain/io/byte_source.ts";
import { s3Store } from "../service/store/s3.ts";
import type { Store, StoreEntry } from "../service/store/mod.ts";
import { assertClose, loadFixtures } from "./conformance.ts";
import { FIXTURE_DICTS, postJson, testApp } from "./helpers.ts";
import { startS3rver, stopS3rver } from "./s3rver.ts";

const CASES = ["saelens_standard", "gemma_scope_compressed", "sparsify_topk"];
const fixtures = new Map(loadFixtures().map((f) => [f.case, f]));

async function upload(store: Store): Promise<void> {
  for (const id of CASES) {
    for (const entry of Deno.readDirSync(`${FIXTURE_DICTS}/${id}`)) {
      await store.put!(
        `${id}/${entry.name}`,
        Deno.readFileSync(`${FIXTURE_DICTS}/${id}/${entry.name}`),
      );
    }
  }
}

/**
 * The real S3 store, with a hook run before a chosen object is opened: the test uses it to
 * stop s3rver exactly when a load has listed the folder and read its config but not yet
 * fetched the weights. Every byte still comes from s3rver.
 */
function withHookBeforeOpen(store: Store, match: RegExp, hook: () => Promise<void>): Store {
  return {
    describe: store.describe,
    list: (prefix: string): Promise<StoreEntry[]> => store.list(prefix),
    ping: (): Promise<void> => store.ping(),
    async open(path: string): Promise<ByteSource> {
      if (match.test(path)) await hook();
      return await store.open(path);
    },
  };
}

function env(port: number): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
  };
}

Deno.test("dictionaries round-trip through s3rver and encode, decode and steer match numpy", async () => {
  const directory = await Deno.makeTempDir({ prefix: "saeserve-s3-" });
  const { server, port } = await startS3rver(directory);
  const store = s3Store(new URL("s3://b/sae"), env(port), { retryDelayMs: 5 });
  const { app, registry } = testApp({ store });
  try {
    await upload(store);
    const list = await (await app.request("/v1/dictionaries")).json();
    assert.deepEqual(list.dictionaries.map((d: { id: string }) => d.id).sort(), [...CASES].sort());
    for (const id of CASES) {
      const f = fixtures.get(id)!;
      const enc = await postJson(app, {
        path: `/v1/dictionaries/${id}/encode`,
        body: {
          activations: f.x,
          include: ["reconstruction"],
        },
      });
      assert.equal(enc.status, 200, id);
      const body = await enc.json();
      assertClose(body.reconstruction.flat(), f.reconstruction.flat(), {
        tol: 1e-5,
        what: `${id} reconstruction`,
      });
      const dec = await postJson(app, {
        path: `/v1/dictionaries/${id}/decode`,
        body: {
          indices: f.decode.indices,
          values: f.decode.values,
        },
      });
      assertClose((await dec.json()).activations.flat(), f.decode.expected.flat(), {
        tol: 1e-5,
        what: `${id} decode`,
      });
      const steer = await postJson(app, {
        path: `/v1/dictionaries/${id}/steer`,
        body: {
          activations: f.x,
          interventions: f.steer[0].interventions,
        },
      });
      assertClose((await steer.json()).activations.flat(), f.steer[0].expected.flat(), {
        tol: 1e-5,
        what: `${id} steer`,
      });
    }
  } finally {
    registry.close();
    await stopS3rver(server);
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("a store that stops mid-load gives 503; after it recovers the next request succeeds", async () => {
  const directory = await Deno.makeTempDir({ prefix: "saeserve-s3-" });
  let { server, port } = await startS3rver(directory);
  const real = s3Store(new URL("s3://b/sae"), env(port), { retryDelayMs: 5, retries: 1 });
  let stopNextLoad = true;
  const store = withHookBeforeOpen(real, /\.(safetensors|npz)$/, async () => {
    if (!stopNextLoad) return;
    stopNextLoad = false;
    await stopS3rver(server);
  });
  const { app, registry } = testApp({ store });
  const f = fixtures.get("saelens_standard")!;
  try {
    await upload(real);
    const down = await postJson(app, {
      path: `/v1/dictionaries/${f.case}/encode`,
      body: { activations: f.x },
    });
    assert.equal(down.status, 503);
    assert.equal(down.headers.get("content-type"), "application/problem+json");
    const problem = await down.json();
    assert.equal(problem.status, 503);
    assert.doesNotMatch(JSON.stringify(problem), /S3RVER/, "no credentials in the error");
    assert.equal((await app.request("/readyz")).status, 503);

    ({ server } = await startS3rver(directory, { port }));
    const up = await postJson(app, {
      path: `/v1/dictionaries/${f.case}/encode`,
      body: {
        activations: f.x,
        include: ["reconstruction"],
      },
    });
    assert.equal(up.status, 200);
    assertClose((await up.json()).reconstruction.flat(), f.reconstruction.flat(), {
      tol: 1e-5,
      what: "after recovery",
    });
    assert.equal((await app.request("/readyz")).status, 200);
  } finally {
    registry.close();
    await stopS3rver(server);
    await Deno.remove(directory, { recursive: true });
  }
});
