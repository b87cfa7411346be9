import assert from "node:assert/strict";
import { Client, SaeServeError } from "./mod.ts";
import { encodeNpy } from "./npy.ts";
import { retryAfterMs } from "./transport.ts";

const problem = (status: number, title: string, detail: string, headers = {}) =>
  new Response(JSON.stringify({ type: "about:blank", title, status, detail }), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });

/** A stub server answering from a script (the last answer repeats). */
function stub(script: (() => Response)[]) {
  const seen: { at: number; url: string }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      seen.push({ at: performance.now(), url: req.url });
      return (script.length > 1 ? script.shift()! : script[0])();
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    close: () => server.shutdown(),
  };
}

Deno.test("transport: 429 and 503 are retried after Retry-After", async () => {
  const x = { data: new Float32Array([1, 2, 3, 4]), rows: 2, cols: 2 };
  const s = stub([
    () => problem(429, "Too Many Requests", "queue full", { "retry-after": "1" }),
    () => problem(503, "Service Unavailable", "loading", { "retry-after": "0" }),
    () =>
      new Response(encodeNpy(x), {
        headers: { "content-type": "application/x-npy" },
      }),
  ]);
  try {
    const out = await new Client({ baseUrl: s.url, backoffMs: 5 }).steer(
      "d",
      x,
      [],
    );
    assert.deepEqual(out, x);
    assert.equal(s.seen.length, 3);
    assert.ok(s.seen[1].at - s.seen[0].at >= 950, "Retry-After: 1 honoured");
  } finally {
    await s.close();
  }
});

Deno.test("transport: gives up after maxRetries; other errors are not retried", async () => {
  const s = stub([
    () => problem(503, "Service Unavailable", "store unreachable"),
  ]);
  try {
    const client = new Client({ baseUrl: s.url, maxRetries: 2, backoffMs: 1 });
    const err = await client.describe("d").catch((e) => e);
    assert.ok(err instanceof SaeServeError);
    assert.deepEqual([err.status, err.title, err.detail], [
      503,
      "Service Unavailable",
      "store unreachable",
    ]);
    assert.equal(s.seen.length, 3);
  } finally {
    await s.close();
  }
  const t = stub([
    () =>
      new Response("boom", {
        status: 500,
        statusText: "Internal Server Error",
      }),
  ]);
  try {
    const err = await new Client({ baseUrl: t.url }).dictionaries().catch((e) => e);
    assert.deepEqual([err.status, err.detail, t.seen.length], [500, "boom", 1]);
  } finally {
    await t.close();
  }
  const refused = await new Client({ baseUrl: t.url }).dictionaries().catch((
    e,
  ) => e);
  assert.ok(refused instanceof SaeServeError && refused.status === 0);
});

Deno.test("transport: a Retry-After beyond maxBackoffMs is raised at once", async () => {
  // A dictionary whose files cannot be read: the service names when it will look again.
  const s = stub([
    () => problem(503, "Service Unavailable", "cannot be read", { "retry-after": "211" }),
  ]);
  try {
    const started = performance.now();
    const client = new Client({ baseUrl: s.url, backoffMs: 1, maxBackoffMs: 5000 });
    const err = await client.describe("d").catch((e) => e);
    assert.ok(performance.now() - started < 2000);
    assert.ok(err instanceof SaeServeError);
    assert.deepEqual([err.status, err.detail, s.seen.length], [503, "cannot be read", 1]);
  } finally {
    await s.close();
  }
});

Deno.test("transport: a problem marked not retryable (a request past its deadline) is raised at once", async () => {
  const s = stub([() =>
    new Response(
      JSON.stringify({
        type: "about:blank",
        title: "Service Unavailable",
        status: 503,
        detail: "the request exceeded its 1000 ms deadline",
        retryable: false,
      }),
      { status: 503, headers: { "content-type": "application/problem+json" } },
    )]);
  try {
    const err = await new Client({ baseUrl: s.url, backoffMs: 1 }).describe("d").catch((e) => e);
    assert.ok(err instanceof SaeServeError);
    assert.deepEqual([err.status, s.seen.length], [503, 1]);
  } finally {
    await s.close();
  }
});

Deno.test("transport: a 429's Retry-After is waited out even beyond maxBackoffMs", async () => {
  const x = { data: new Float32Array([1, 2]), rows: 1, cols: 2 };
  const s = stub([
    () => problem(429, "Too Many Requests", "rate limit", { "retry-after": "1" }),
    () => new Response(encodeNpy(x), { headers: { "content-type": "application/x-npy" } }),
  ]);
  try {
    const client = new Client({ baseUrl: s.url, backoffMs: 1, maxBackoffMs: 200 });
    assert.deepEqual(await client.steer("d", x, []), x);
    assert.ok(s.seen[1].at - s.seen[0].at >= 950);
  } finally {
    await s.close();
  }
});

Deno.test("transport: Retry-After as seconds or an HTTP date", () => {
  assert.equal(retryAfterMs("2"), 2000);
  assert.equal(retryAfterMs(null), undefined);
  assert.equal(
    retryAfterMs(
      "Wed, 21 Oct 2015 07:28:10 GMT",
      Date.UTC(2015, 9, 21, 7, 28, 0),
    ),
    10000,
  );
});
