/**
 * The service's guards: API keys (401 / 403 / 200, constant-time check, keys never logged),
 * failed attempts limited per client address, /readyz hiding the store's location from callers
 * without a key, per-key rate limits with RateLimit headers, the per-request deadline (503), request ids and
 * one structured JSON log line per request.
 * @module
 */

import assert from "node:assert/strict";
import { apiKeyAuth, constantTimeEqual } from "../routes/auth.ts";
import { addressBucket } from "../routes/auth_failures.ts";
import { fileStore } from "../service/store/file.ts";
import { httpStore } from "../service/store/http.ts";
import { FIXTURE_DICTS, postJson, testApp } from "./helpers.ts";

const url = "/v1/dictionaries/saelens_standard/encode";
const D_IN = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/expected/saelens_standard.json", import.meta.url)),
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
    const res = await postJson(app, { path: url, body: body });
    assert.equal(res.status, 503);
    const problem = await res.json();
    assert.match(problem.detail, /100 ms deadline/);
    assert.equal(problem.retryable, false, "clients must not send it again as it is");
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

/** A request from the client address `hostname` (what Deno.serve hands Hono as `c.env`). */
function from(
  app: ReturnType<typeof testApp>["app"],
  hostname: string | undefined,
  init?: { key?: string; path?: string },
): Promise<Response> {
  const env = hostname === undefined
    ? undefined
    : { remoteAddr: { hostname, port: 40000, transport: "tcp" } };
  return Promise.resolve(app.request(init?.path ?? url, {
    method: init?.path ? "GET" : "POST",
    headers: withKey(init?.key),
    body: init?.path ? undefined : JSON.stringify(body),
  }, env));
}

Deno.test("auth: 401 and 403 are problem+json titled Unauthorized and Forbidden", async () => {
  const { app, registry } = testApp({ auth: await apiKeyAuth({ keys: ["k"] }) });
  try {
    const none = await from(app, "10.0.0.1");
    assert.equal(none.status, 401);
    assert.equal(none.headers.get("content-type"), "application/problem+json");
    assert.equal((await none.json()).title, "Unauthorized");
    const wrong = await from(app, "10.0.0.1", { key: "nope" });
    assert.equal(wrong.status, 403);
    assert.deepEqual(
      { ...(await wrong.json()), detail: undefined },
      {
        type: "https://saeserve.dev/problems/forbidden",
        title: "Forbidden",
        status: 403,
        detail: undefined,
      },
    );
  } finally {
    registry.close();
  }
});

Deno.test("auth failures are limited per client address: 429 with Retry-After for the rest of the minute, a correct key included", async () => {
  let now = 5_000_000;
  const { app, registry } = testApp({
    auth: await apiKeyAuth({ keys: ["right"], failuresPerMinute: 3, now: () => now }),
  });
  try {
    const statuses = async (address: string | undefined, keys: (string | undefined)[]) => {
      const out: number[] = [];
      for (const key of keys) {
        const res = await from(app, address, { key });
        out.push(res.status);
        await res.body?.cancel();
      }
      return out;
    };
    // Three wrong keys from one address, then even the right key is refused.
    assert.deepEqual(await statuses("203.0.113.7", ["a", "b", undefined]), [403, 403, 401]);
    const locked = await from(app, "203.0.113.7", { key: "right" });
    assert.equal(locked.status, 429);
    assert.equal(locked.headers.get("retry-after"), "60");
    const problem = await locked.json();
    assert.equal(problem.title, "Too many requests");
    assert.match(problem.detail, /failed authentication/);
    assert.equal((await from(app, "203.0.113.7", { key: "c" })).status, 429, "no more guesses");
    // Other addresses are unaffected.
    assert.deepEqual(await statuses("203.0.113.8", ["right", "x", "right"]), [200, 403, 200]);
    // An IPv6 client counts by its /64: another address in it is locked out too...
    assert.deepEqual(await statuses("2001:db8:1:2::10", ["a", "b", "c"]), [403, 403, 403]);
    assert.deepEqual(await statuses("2001:db8:1:2:ffff::1", ["right"]), [429]);
    assert.deepEqual(await statuses("2001:db8:1:3::10", ["right"]), [200]);
    // ... and IPv4-mapped IPv6 is the IPv4 address.
    assert.deepEqual(await statuses("::ffff:203.0.113.7", ["right"]), [429]);
    // Requests without a connection (in-process) share one bucket.
    assert.deepEqual(await statuses(undefined, ["a", "b", "c", "right"]), [403, 403, 403, 429]);
    // After the minute the address may try again.
    now += 30_000;
    assert.equal(
      (await from(app, "203.0.113.7", { key: "right" })).headers.get("retry-after"),
      "30",
    );
    now += 30_000;
    assert.deepEqual(await statuses("203.0.113.7", ["right", "a"]), [200, 403]);
  } finally {
    registry.close();
  }
});

Deno.test("auth failure limit: 0 turns it off", async () => {
  const { app, registry } = testApp({
    auth: await apiKeyAuth({ keys: ["right"], failuresPerMinute: 0 }),
  });
  try {
    for (let i = 0; i < 30; i++) {
      const res = await from(app, "10.1.1.1", { key: `wrong${i}` });
      assert.equal(res.status, 403);
      await res.body?.cancel();
    }
    assert.equal((await from(app, "10.1.1.1", { key: "right" })).status, 200);
  } finally {
    registry.close();
  }
});

Deno.test("addressBucket: IPv4 as is, IPv6 by /64, IPv4-mapped as IPv4", () => {
  assert.equal(addressBucket("192.0.2.1"), "192.0.2.1");
  assert.equal(addressBucket("2001:db8::1"), "2001:db8:0:0::/64");
  assert.equal(addressBucket("[2001:DB8:0:0:1::1]"), "2001:db8:0:0::/64");
  assert.equal(addressBucket("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(addressBucket("::ffff:192.0.2.1"), "192.0.2.1");
  assert.equal(addressBucket("::1"), "0:0:0:0::/64");
  assert.equal(addressBucket("not an address"), "not an address");
});

Deno.test("/readyz shows the store's location only to a caller holding a valid key", async () => {
  const { app, registry } = testApp({
    auth: await apiKeyAuth({ keys: ["right"], failuresPerMinute: 2 }),
  });
  const location = registry.store.describe;
  try {
    const ready = (address: string, key?: string) =>
      from(app, address, { key, path: "/readyz" }).then(async (r) => ({
        status: r.status,
        text: await r.text(),
      }));
    const open = await ready("10.2.0.1");
    assert.equal(open.status, 200);
    assert.deepEqual(JSON.parse(open.text), {
      status: "ready",
      backend: "reference",
      backends: {
        reference: { adapter: "CPU (plain TypeScript, one thread)", software_adapter: false },
      },
      store: "file",
    });
    assert.ok(!open.text.includes(FIXTURE_DICTS), "no local path");
    const keyed = JSON.parse((await ready("10.2.0.1", "right")).text);
    assert.equal(keyed.store, "file");
    assert.equal(keyed.store_location, location);
    // A wrong key shows nothing and counts as a failed attempt: /readyz is no free oracle.
    assert.equal(JSON.parse((await ready("10.2.0.2", "guess1")).text).store_location, undefined);
    assert.equal((await from(app, "10.2.0.2", { key: "guess2" })).status, 403);
    assert.equal((await from(app, "10.2.0.2", { key: "right" })).status, 429);
    const lockedOut = await ready("10.2.0.2", "right");
    assert.equal(lockedOut.status, 200, "readiness itself stays open");
    assert.equal(JSON.parse(lockedOut.text).store_location, undefined);
  } finally {
    registry.close();
  }
});

Deno.test("/readyz on an open service shows the store kind only; a down store's 503 names no path", async () => {
  const missing = `${FIXTURE_DICTS}-missing-${crypto.randomUUID()}`;
  const open = testApp();
  const down = testApp({ store: fileStore(missing) });
  const keyed = testApp({ store: fileStore(missing), auth: await apiKeyAuth({ keys: ["right"] }) });
  try {
    const body = await (await open.app.request("/readyz")).json();
    assert.deepEqual(body, {
      status: "ready",
      backend: "reference",
      backends: {
        reference: { adapter: "CPU (plain TypeScript, one thread)", software_adapter: false },
      },
      store: "file",
    });
    const res = await down.app.request("/readyz");
    assert.equal(res.status, 503);
    const text = await res.text();
    assert.ok(!text.includes(missing), text);
    assert.equal(JSON.parse(text).detail, "the file store is unavailable");
    const trusted = await keyed.app.request("/readyz", {
      headers: { authorization: "Bearer right" },
    });
    assert.equal(trusted.status, 503);
    assert.ok((await trusted.text()).includes(missing), "a key holder sees the path");
  } finally {
    open.registry.close();
    down.registry.close();
    keyed.registry.close();
  }
});

Deno.test("auth failures over a real connection count by the socket's remote address", async () => {
  const { app, registry } = testApp({
    auth: await apiKeyAuth({ keys: ["right"], failuresPerMinute: 2 }),
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const statuses: number[] = [];
    for (const key of ["a", "b", "right"]) {
      const res = await fetch(base + url, {
        method: "POST",
        headers: withKey(key),
        body: JSON.stringify(body),
      });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    assert.deepEqual(statuses, [403, 403, 429]);
    // In-process requests (no connection) are another bucket.
    assert.equal((await from(app, undefined, { key: "right" })).status, 200);
  } finally {
    await server.shutdown();
    registry.close();
  }
});
