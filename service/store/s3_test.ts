import assert from "node:assert/strict";
import { startS3rver, stopS3rver } from "../../tests/s3rver.ts";
import { readRange } from "../../domain/io/byte_source.ts";
import { SaeError } from "../../domain/errors.ts";
import { s3Store } from "./s3.ts";
import { sha256Hex, signRequest } from "./sigv4.ts";
import { randomBytes } from "../../tests/random_bytes.ts";
import { isKind } from "../../tests/sae_errors.ts";

const ACCESS_KEY = "S3RVER";
const SECRET = "S3RVER";
const WRONG_SECRET = "not-the-secret-Zq81xP";

/** What the proxy in front of s3rver is told to do, and what it saw. */
interface Faults {
  /** Answer this many upcoming requests with 503. */
  unavailable: number;
  /** Requests seen. */
  requests: number;
  /** Listing requests seen. */
  listings: number;
}

/**
 * A proxy in front of s3rver that checks SigV4 signatures the way S3 does (s3rver 3.7.1 only
 * checks that the access key exists) and can be told to answer 503. The expected signature
 * is recomputed from the request as received on the wire, so a wrong secret, an unsigned
 * header or a query or path that changed in transit all fail; the algorithm itself is pinned
 * against AWS's published vectors in sigv4_test.ts.
 */
function startProxy(upstream: number): { url: string; faults: Faults; close(): Promise<void> } {
  const faults: Faults = { unavailable: 0, requests: 0, listings: 0 };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    faults.requests++;
    if (faults.unavailable > 0) {
      faults.unavailable--;
      await req.body?.cancel();
      return new Response("<Error><Code>SlowDown</Code></Error>", { status: 503 });
    }
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
    const denied = await verify(req, body);
    if (denied) {
      return new Response(`<Error><Code>${denied}</Code></Error>`, {
        status: 403,
        headers: { "content-type": "application/xml" },
      });
    }
    const url = new URL(req.url);
    if (req.method === "GET" && url.searchParams.has("prefix")) faults.listings++;
    const headers = new Headers(req.headers);
    headers.delete("host");
    const answer = await fetch(`http://127.0.0.1:${upstream}${url.pathname}${url.search}`, {
      method: req.method,
      headers,
      body,
    });
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    faults,
    close: () => server.shutdown(),
  };
}

/** Null when `req` is correctly signed with SECRET, else an S3 error code. */
async function verify(req: Request, body: Uint8Array | undefined): Promise<string | null> {
  const auth = req.headers.get("authorization") ?? "";
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/
      .exec(auth);
  if (!match) return "AccessDenied";
  const [, accessKeyId, , region, signedHeaders] = match;
  if (accessKeyId !== ACCESS_KEY) return "InvalidAccessKeyId";
  const payloadHash = req.headers.get("x-amz-content-sha256") ?? "";
  if (body && payloadHash !== sha256Hex(body)) return "XAmzContentSHA256Mismatch";
  const amzDate = req.headers.get("x-amz-date") ?? "";
  const date = new Date(
    amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"),
  );
  const headers = new Headers();
  for (const name of signedHeaders.split(";")) {
    if (["host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"].includes(name)) {
      continue;
    }
    headers.set(name, req.headers.get(name) ?? "");
  }
  const url = new URL(req.url);
  const expected = await signRequest(
    {
      method: req.method,
      url: new URL(`http://${req.headers.get("host")}${url.pathname}${url.search}`),
      headers,
      payloadHash,
    },
    { accessKeyId, secretAccessKey: SECRET, region, service: "s3" },
    { date },
  );
  return expected.get("authorization") === auth ? null : "SignatureDoesNotMatch";
}

Deno.test("s3Store against s3rver behind a signature-checking proxy", async (t) => {
  const directory = await Deno.makeTempDir({ prefix: "saeserve-s3rver-" });
  const { server: s3rver, port } = await startS3rver(directory);
  const proxy = startProxy(port);
  const env = {
    AWS_ACCESS_KEY_ID: ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_REGION: "eu-west-3",
    AWS_ENDPOINT_URL: proxy.url,
  };
  const store = s3Store(new URL("s3://b/dicts"), env, { maxKeys: 2, retryDelayMs: 5 });
  const objects: Record<string, Uint8Array<ArrayBuffer>> = {
    "demo-topk/cfg.json": new TextEncoder().encode('{"d_in": 16}'),
    "demo-topk/sae_weights.safetensors": randomBytes(5 * 1024 * 1024 + 17),
    "with space/naïve ファイル.bin": randomBytes(1000),
    "tricky/a&b<c>'q\".bin": randomBytes(10),
    "tricky/plus+eq=pct%20.bin": randomBytes(11),
    "empty.bin": new Uint8Array(0),
  };

  try {
    await t.step("put stores objects with signed requests", async () => {
      for (const [path, bytes] of Object.entries(objects)) await store.put!(path, bytes);
      await store.ping();
    });

    await t.step("list pages through s3rver's own markers and decodes escaped keys", async () => {
      const before = proxy.faults.listings;
      const listed = await store.list("");
      const expected = Object.entries(objects)
        .map(([path, bytes]) => ({ path, size: bytes.byteLength }))
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      assert.deepEqual(listed, expected);
      assert.equal(proxy.faults.listings - before, 3, "six keys at two per page take three pages");
    });

    await t.step("list of a folder returns only what is inside it", async () => {
      assert.deepEqual(await store.list("tricky/"), [
        { path: "tricky/a&b<c>'q\".bin", size: 10 },
        { path: "tricky/plus+eq=pct%20.bin", size: 11 },
      ]);
      assert.deepEqual(await store.list("demo"), []);
      assert.deepEqual(await store.list("nothing-here"), []);
    });

    await t.step("open takes the size from HEAD and reads ranges back byte for byte", async () => {
      for (const [path, bytes] of Object.entries(objects)) {
        const source = await store.open(path);
        assert.equal(source.size, bytes.byteLength, path);
        assert.deepEqual(
          await readRange(source, { offset: 0, length: bytes.byteLength }),
          bytes,
          path,
        );
      }
      const big = objects["demo-topk/sae_weights.safetensors"];
      const source = await store.open("demo-topk/sae_weights.safetensors");
      for (const [offset, length] of [[0, 8], [1_000_003, 2_000_000], [big.byteLength - 5, 5]]) {
        assert.deepEqual(
          await readRange(source, { offset, length }),
          big.subarray(offset, offset + length),
        );
      }
      await assert.rejects(source.stream(big.byteLength - 5, 6), isKind("malformed"));
      await assert.rejects(source.stream(1.5, 2), isKind("malformed"));
    });

    await t.step("missing keys and paths leaving the prefix are not_found", async () => {
      await assert.rejects(store.open("demo-topk/missing.bin"), isKind("not_found"));
      const before = proxy.faults.requests;
      for (const path of ["../dicts/demo-topk/cfg.json", "/demo-topk/cfg.json", "a\\b", ""]) {
        await assert.rejects(store.open(path), isKind("not_found"), path);
      }
      await assert.rejects(store.list("../"), isKind("not_found"));
      assert.equal(proxy.faults.requests, before, "nothing was sent for a refused path");
      await assert.rejects(store.put!("../x", new Uint8Array(1)), isKind("invalid"));
    });

    await t.step(
      "a store with the wrong secret is refused, without the secret in errors",
      async () => {
        const wrong = s3Store(
          new URL("s3://b/dicts"),
          { ...env, AWS_SECRET_ACCESS_KEY: WRONG_SECRET },
          { retryDelayMs: 5 },
        );
        const failures = await Promise.all([
          wrong.put!("demo-topk/evil.bin", new Uint8Array(3)).catch((e) => e),
          wrong.list("").catch((e) => e),
          wrong.open("demo-topk/cfg.json").catch((e) => e),
          wrong.ping().catch((e) => e),
        ]);
        for (const error of failures) {
          assert.ok(error instanceof SaeError, String(error));
          assert.equal(error.kind, "unavailable");
          assert.match(error.message, /access denied/);
          assert.ok(!error.message.includes(WRONG_SECRET));
          assert.ok(!error.message.includes(SECRET));
        }
        assert.match(failures[0].message, /SignatureDoesNotMatch/);
        assert.ok(!wrong.describe.includes(WRONG_SECRET));
        assert.equal(wrong.describe, "s3://b/dicts");
        await assert.rejects(store.open("demo-topk/evil.bin"), isKind("not_found"));
      },
    );

    await t.step("5xx answers are retried twice before giving up", async () => {
      const source = await store.open("demo-topk/cfg.json");
      proxy.faults.unavailable = 2;
      assert.deepEqual(
        await readRange(source, { offset: 0, length: source.size }),
        objects["demo-topk/cfg.json"],
      );
      proxy.faults.unavailable = 3;
      await assert.rejects(
        readRange(source, { offset: 0, length: source.size }),
        isKind("unavailable"),
      );
      assert.equal(proxy.faults.unavailable, 0);
      proxy.faults.unavailable = 3;
      await assert.rejects(store.open("demo-topk/cfg.json"), isKind("unavailable"));
    });

    await t.step("a store at the bucket root sees the prefix as a folder", async () => {
      const whole = s3Store(new URL("s3://b"), env);
      assert.equal(whole.describe, "s3://b");
      const listed = await whole.list("dicts/tricky");
      assert.deepEqual(listed.map((e) => e.path), [
        "dicts/tricky/a&b<c>'q\".bin",
        "dicts/tricky/plus+eq=pct%20.bin",
      ]);
    });

    await t.step("a missing bucket makes ping and list unavailable", async () => {
      const missing = s3Store(new URL("s3://no-such-bucket/x"), env, { retryDelayMs: 5 });
      await assert.rejects(missing.ping(), isKind("unavailable"));
      await assert.rejects(missing.list(""), isKind("unavailable"));
    });
  } finally {
    await proxy.close();
    await stopS3rver(s3rver);
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("s3Store: s3rver stopped mid-read is unavailable; restarted, the same source reads", async () => {
  const directory = await Deno.makeTempDir({ prefix: "saeserve-s3rver-" });
  let { server, port } = await startS3rver(directory);
  let running = true;
  const env = {
    AWS_ACCESS_KEY_ID: ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
  };
  const store = s3Store(new URL("s3://b/faults"), env, { retryDelayMs: 5 });
  // Large enough that most of it is still unsent when the server goes away.
  const big = randomBytes(32 << 20);
  try {
    await store.put!("big.bin", big);
    const source = await store.open("big.bin");
    assert.equal(source.size, big.byteLength);

    const reader = (await source.stream(0, big.byteLength)).getReader();
    const first = await reader.read();
    assert.ok(!first.done && first.value.byteLength < big.byteLength);
    await stopS3rver(server);
    running = false;
    const broken = await (async () => {
      while (!(await reader.read()).done) { /* drain what arrived before the stop */ }
    })().catch((e) => e);
    assert.ok(broken instanceof SaeError, `the read should break, got ${broken}`);
    assert.equal(broken.kind, "unavailable");
    assert.match(broken.message, /s3:\/\/b\/faults\/big\.bin/);
    assert.ok(!broken.message.includes(SECRET));

    await assert.rejects(readRange(source, { offset: 0, length: 10 }), isKind("unavailable"));
    await assert.rejects(store.open("big.bin"), isKind("unavailable"));
    await assert.rejects(store.list(""), isKind("unavailable"));
    await assert.rejects(store.ping(), isKind("unavailable"));

    ({ server, port } = await startS3rver(directory, { port }));
    running = true;
    assert.deepEqual(
      await readRange(source, { offset: 0, length: big.byteLength }),
      big,
      "the old source reads again",
    );
    assert.deepEqual(await store.list(""), [{ path: "big.bin", size: big.byteLength }]);
    await store.ping();
  } finally {
    if (running) await stopS3rver(server);
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("s3Store with an unreachable endpoint is unavailable after retries", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const store = s3Store(new URL("s3://b/p"), {
    AWS_ACCESS_KEY_ID: "AKID",
    AWS_SECRET_ACCESS_KEY: "secret-value-123",
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
  }, { retryDelayMs: 1 });
  const error = await store.open("x").catch((e) => e);
  assert.ok(error instanceof SaeError && error.kind === "unavailable");
  assert.match(error.message, /cannot reach the store/);
  assert.ok(!error.message.includes("secret-value-123"));
  assert.ok(!String(error.cause).includes("secret-value-123"));
});

Deno.test("s3Store addresses AWS virtual-hosted style, and path style for dotted buckets", async () => {
  const seen: string[] = [];
  const fake = ((input: URL) => {
    seen.push(String(input));
    return Promise.resolve(new Response(null, { status: 404 }));
  }) as typeof fetch;
  const env = { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "s", AWS_REGION: "ap-south-1" };
  await s3Store(new URL("s3://bucket/pre/fix"), env, { fetch: fake }).open("a b/c.bin").catch(
    () => {},
  );
  await s3Store(new URL("s3://my.bucket"), env, { fetch: fake }).open("k").catch(() => {});
  await s3Store(new URL("s3://bucket/pre"), {}, { fetch: fake }).list("").catch(() => {});
  await s3Store(new URL("s3://bucket/pre"), { AWS_ENDPOINT_URL: "http://minio:9000/" }, {
    fetch: fake,
  }).list("x").catch(() => {});
  assert.deepEqual(seen, [
    "https://bucket.s3.ap-south-1.amazonaws.com/pre/fix/a%20b/c.bin",
    "https://s3.ap-south-1.amazonaws.com/my.bucket/k",
    "https://bucket.s3.us-east-1.amazonaws.com/?prefix=pre%2F",
    "http://minio:9000/bucket?prefix=pre%2Fx%2F",
  ]);
});

Deno.test("s3Store sends a session token and skips signing without credentials", async () => {
  const sent: Headers[] = [];
  const fake = ((_input: URL, init?: RequestInit) => {
    sent.push(new Headers(init?.headers));
    return Promise.resolve(new Response(null, { status: 200, headers: { "content-length": "4" } }));
  }) as typeof fetch;
  const signed = s3Store(new URL("s3://b"), {
    AWS_ACCESS_KEY_ID: "AKID",
    AWS_SECRET_ACCESS_KEY: "s",
    AWS_SESSION_TOKEN: "tok",
  }, { fetch: fake });
  assert.equal((await signed.open("k")).size, 4);
  assert.equal(sent[0].get("x-amz-security-token"), "tok");
  assert.match(sent[0].get("authorization") ?? "", /^AWS4-HMAC-SHA256 Credential=AKID\//);
  await s3Store(new URL("s3://b"), {}, { fetch: fake }).open("k");
  assert.equal(sent[1].get("authorization"), null);
});

Deno.test("s3Store stops on a truncated listing that does not advance", async () => {
  const page = "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>p/a</Key>" +
    "<Size>1</Size></Contents></ListBucketResult>";
  let calls = 0;
  const fake = (() => {
    calls++;
    return Promise.resolve(new Response(page, { status: 200 }));
  }) as typeof fetch;
  const store = s3Store(new URL("s3://b/p"), {}, { fetch: fake });
  await assert.rejects(store.list(""), isKind("unavailable"));
  assert.equal(calls, 2);
});

Deno.test("s3Store refuses addresses that are not s3://BUCKET/PREFIX", () => {
  for (
    const address of [
      "https://b/x",
      "s3:///x",
      "s3://b/a%5Cb",
      "s3://b/a%2F..%2Fb",
      "s3://key:secret@b/x",
      "s3://b:9000/x",
      "s3://b/x?versionId=1",
    ]
  ) {
    const error = (() => {
      try {
        s3Store(new URL(address), {});
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(error instanceof SaeError && error.kind === "invalid", address);
    assert.ok(!error.message.includes("secret"), address);
  }
  assert.throws(() => s3Store(new URL("s3://b"), { AWS_REGION: "x.evil/" }), isKind("invalid"));
});
