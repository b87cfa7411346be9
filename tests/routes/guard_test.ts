/**
 * The service's guards: API keys (401 / 403 / 200, constant-time check, keys never logged),
 * per-key rate limits with RateLimit headers, the per-request deadline (503), request ids and
 * one structured JSON log line per request.
 * @module
 */

import assert from "node:assert/strict";
import { apiKeyAuth, constantTimeEqual } from "../../routes/auth.ts";
import { httpStore } from "../../domain/store/http.ts";
import { postJson, testApp } from "./helpers.ts";

const url = "/v1/dictionaries/saelens_standard/encode";
const D_IN = JSON.parse(
  Deno.readTextFileSync(new URL("../fixtures/expected/saelens_standard.json", import.meta.url)),
).d_in;
const body = { activations: [new Array(D_IN).fill(0.1)] };

function withKey(key?: string): Record<string, string> {
  return { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) };
}

Deno.test("auth: no key 401, wrong key 403, right key 200; health stays open; metrics optionally protected", async () => {
  const lines: Record<string, unknown>[] = [];
  const { app, registry } = testApp({
    auth: await apiKeyAuth({ keys: ["alpha-secret", "beta-secret"] }),
    protectMetrics: true,
    log: (l) => lines.push(l),
  });
  try {
    const dict = await (await app.request("/v1/dictionaries/saelens_standard")).json();
    assert.equal(dict.status, 401);
    const req = (key?: string) =>
      app.request(url, {
        method: "POST",
        headers: withKey(key),
        body: JSON.stringify({ activations: [new Array(D_IN).fill(0.1)] }),
      });
    const none = await req();
    assert.equal(none.status, 401);
    assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="saeserve"');
    assert.equal((await req("alpha-secreT")).status, 403);
    assert.equal((await req("beta-secret")).status, 200);
    assert.equal((await app.request("/healthz")).status, 200);
    assert.equal((await app.request("/readyz")).status, 200);
    assert.equal((await app.request("/metrics")).status, 401);
    assert.equal(
      (await app.request("/metrics", { headers: { authorization: "Bearer alpha-secret" } })).status,
      200,
    );
    assert.ok(!JSON.stringify(lines).includes("secret"), "keys never reach the logs");
  } finally {
    registry.close();
  }
});

Deno.test("auth: constant-time comparison of equal-length digests", () => {
  assert.ok(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3)));
  assert.ok(!constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4)));
  assert.ok(!constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3)));
});

Deno.test("rate limit: RateLimit headers count down per key, then 429 with Retry-After", async () => {
  const { app, registry } = testApp({
    auth: await apiKeyAuth({ keys: ["k1", "k2"], ratePerMinute: 3 }),
  });
  try {
    const req = (key: string) =>
      app.request(url, { method: "POST", headers: withKey(key), body: JSON.stringify(body) });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await req("k1");
      assert.equal(res.status, 200);
      remaining.push(res.headers.get("ratelimit-remaining")!);
      await res.body?.cancel();
    }
    assert.deepEqual(remaining, ["2", "1", "0"]);
    const over = await req("k1");
    assert.equal(over.status, 429);
    assert.ok(Number(over.headers.get("retry-after")) > 0);
    assert.match(over.headers.get("ratelimit-policy")!, /q=3;w=60/);
    assert.equal((await req("k2")).status, 200, "limits are per key");
  } finally {
    registry.close();
  }
});

Deno.test("deadline: a request stuck behind a slow store gets 503, never a hung connection", async () => {
  // A real HTTP store whose server takes 2 s to answer anything.
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async () => {
    await new Promise((r) => setTimeout(r, 2000));
    return new Response("[]");
  });
  const store = httpStore(new URL(`http://127.0.0.1:${server.addr.port}/`), {
    timeoutMs: 5000,
    retries: 0,
  });
  const { app, registry } = testApp({ store, requestTimeoutMs: 100 });
  try {
    const started = performance.now();
    const res = await postJson(app, url, body);
    assert.equal(res.status, 503);
    assert.match((await res.json()).detail, /100 ms deadline/);
    assert.ok(performance.now() - started < 1500);
  } finally {
    registry.close();
    // Let the store's pending request finish before the server closes.
    await new Promise((r) => setTimeout(r, 2100));
    await server.shutdown();
  }
});

Deno.test("request ids are echoed or generated; one JSON log line per request", async () => {
  const lines: Record<string, unknown>[] = [];
  const { app, registry } = testApp({ log: (l) => lines.push(l) });
  try {
    const echoed = await app.request(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "trace-42" },
      body: JSON.stringify({ activations: [new Array(D_IN).fill(0.1), new Array(D_IN).fill(0.2)] }),
    });
    assert.equal(echoed.headers.get("x-request-id"), "trace-42");
    await echoed.body?.cancel();
    const generated = await app.request("/healthz");
    assert.match(generated.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/);
    const line = lines.find((l) => l.request_id === "trace-42")!;
    assert.deepEqual(
      {
        route: line.route,
        dictionary: line.dictionary,
        backend: line.backend,
        rows: line.rows,
        status: line.status,
      },
      {
        route: "/v1/dictionaries/:id/encode",
        dictionary: "saelens_standard",
        backend: "reference",
        rows: 2,
        status: 200,
      },
    );
    assert.equal(typeof line.ms, "number");
    assert.equal(lines.length, 2);
  } finally {
    registry.close();
  }
});
