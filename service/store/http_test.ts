import assert from "node:assert/strict";
import { readRange } from "../../domain/io/byte_source.ts";
import { SaeError } from "../../domain/errors.ts";
import { httpStore } from "./http.ts";
import { randomBytes } from "../../tests/random_bytes.ts";
import { isKind, rejection as failure } from "../../tests/sae_errors.ts";

const USER = "reader";
const PASSWORD = "pa:ss@word-Qx7";
const QUERY_SECRET = "sig-5b1f0e9d";

/** Assert that neither the message nor the cause of `error` quotes a secret. */
function assertNoSecrets(error: SaeError): void {
  for (const text of [error.message, String(error.cause ?? "")]) {
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), QUERY_SECRET]) {
      assert.ok(!text.includes(secret), `${JSON.stringify(text)} quotes a secret`);
    }
  }
}

/** What the test server is told to do, and what it saw. */
interface Control {
  /** Answer this many upcoming requests with 503. */
  failures: number;
  /** Request paths seen, with method and Range. */
  seen: string[];
}

/**
 * A real HTTP server over `files` (keyed by URL path, decoded): HEAD with Content-Length,
 * ranged GET with 206 and Content-Range. Under /norange/ it ignores Range; under /nohead/ it
 * refuses HEAD; under /private/ it wants Basic credentials and the query secret.
 */
function startServer(files: Map<string, Uint8Array<ArrayBuffer>>): {
  base: string;
  control: Control;
  close(): Promise<void>;
} {
  const control: Control = { failures: 0, seen: [] };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const url = new URL(req.url);
    const path = decodeURIComponent(url.pathname);
    control.seen.push(`${req.method} ${path} ${req.headers.get("range") ?? ""}`.trim());
    if (control.failures > 0) {
      control.failures--;
      return new Response("busy", { status: 503 });
    }
    if (path.startsWith("/private/")) {
      const basic = `Basic ${btoa(`${USER}:${PASSWORD}`)}`;
      if (req.headers.get("authorization") !== basic) return new Response(null, { status: 401 });
      if (url.searchParams.get("sig") !== QUERY_SECRET) return new Response(null, { status: 403 });
    }
    if (path.startsWith("/nohead/") && req.method === "HEAD") {
      return new Response(null, { status: 405 });
    }
    const bytes = files.get(path);
    if (!bytes) return new Response("no such file", { status: 404 });
    if (req.method === "HEAD") {
      return new Response(null, { headers: { "content-length": String(bytes.byteLength) } });
    }
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.get("range") ?? "");
    if (!range || path.startsWith("/norange/")) return new Response(bytes);
    const start = Number(range[1]);
    if (start >= bytes.byteLength) {
      return new Response(null, {
        status: 416,
        headers: { "content-range": `bytes */${bytes.byteLength}` },
      });
    }
    const end = Math.min(Number(range[2]), bytes.byteLength - 1);
    return new Response(bytes.slice(start, end + 1), {
      status: 206,
      headers: { "content-range": `bytes ${start}-${end}/${bytes.byteLength}` },
    });
  });
  return {
    base: `http://127.0.0.1:${server.addr.port}`,
    control,
    close: () => server.shutdown(),
  };
}

Deno.test("httpStore against a real server: index.json listing and ranged reads", async (t) => {
  const weights = randomBytes(3 * (1 << 20) + 5);
  const cfg = new TextEncoder().encode('{"d_in": 64}');
  const odd = randomBytes(77);
  const index = [
    { path: "demo/cfg.json", size: cfg.byteLength },
    "demo/w.bin",
    { path: "naïve dir/ファイル+1.bin", size: odd.byteLength },
    "../escape.bin",
    { path: "/etc/passwd", size: 1 },
    { path: "a//b", size: 1 },
    // Stale or sloppy lines: a file that is gone, a size that is not one.
    "demo/gone.bin",
    { path: "demo/odd-size.bin", size: "12" },
  ];
  const files = new Map([
    ["/dicts/index.json", new TextEncoder().encode(JSON.stringify(index))],
    ["/dicts/demo/cfg.json", cfg],
    ["/dicts/demo/w.bin", weights],
    ["/dicts/demo/odd-size.bin", odd],
    ["/dicts/naïve dir/ファイル+1.bin", odd],
    ["/dicts/empty.bin", new Uint8Array(0)],
    ["/escape.bin", new Uint8Array(1)],
    ["/norange/w.bin", weights],
    ["/nohead/w.bin", weights],
    ["/nohead/empty.bin", new Uint8Array(0)],
  ]);
  const server = startServer(files);
  const store = httpStore(new URL(`${server.base}/dicts`), { retryDelayMs: 5 });
  try {
    await t.step("describe is the folder address", () => {
      assert.equal(store.describe, `${server.base}/dicts`);
    });

    await t.step("list reads index.json, sizes unsized entries, skips paths outside", async () => {
      // A file the index names but the server lacks is left out; a bad size is asked for.
      assert.deepEqual(await store.list(""), [
        { path: "demo/cfg.json", size: cfg.byteLength },
        { path: "demo/odd-size.bin", size: odd.byteLength },
        { path: "demo/w.bin", size: weights.byteLength },
        { path: "naïve dir/ファイル+1.bin", size: odd.byteLength },
      ]);
      assert.deepEqual(await store.list("demo/"), [
        { path: "demo/cfg.json", size: cfg.byteLength },
        { path: "demo/odd-size.bin", size: odd.byteLength },
        { path: "demo/w.bin", size: weights.byteLength },
      ]);
      assert.deepEqual(await store.list("dem"), []);
      assert.ok(!server.control.seen.some((s) => s.includes("escape")));
    });

    await t.step("open takes the size from HEAD and streams exact ranges", async () => {
      const source = await store.open("demo/w.bin");
      assert.equal(source.size, weights.byteLength);
      for (
        const [offset, length] of [[0, 1], [1_000_003, 2_000_000], [weights.byteLength - 9, 9]]
      ) {
        assert.deepEqual(
          await readRange(source, { offset, length }),
          weights.subarray(offset, offset + length),
        );
      }
      assert.ok(server.control.seen.includes("GET /dicts/demo/w.bin bytes=1000003-3000002"));
      assert.deepEqual(
        await readRange(await store.open("naïve dir/ファイル+1.bin"), { offset: 0, length: 77 }),
        odd,
      );
      const empty = await store.open("empty.bin");
      assert.equal(empty.size, 0);
      assert.deepEqual(await readRange(empty, { offset: 0, length: 0 }), new Uint8Array(0));
    });

    await t.step("ranges outside the object or not whole bytes are refused unsent", async () => {
      const source = await store.open("demo/cfg.json");
      const before = server.control.seen.length;
      for (const [offset, length] of [[0, cfg.byteLength + 1], [-1, 1], [0.5, 1], [NaN, 0]]) {
        await assert.rejects(source.stream(offset, length), isKind("malformed"));
      }
      assert.equal(server.control.seen.length, before);
    });

    await t.step(
      "a missing object is not_found; traversal is not_found and never sent",
      async () => {
        await assert.rejects(store.open("demo/missing.bin"), isKind("not_found"));
        const before = server.control.seen.length;
        for (const path of ["../escape.bin", "demo/../../escape.bin", "/escape.bin", "a\\b", ""]) {
          await assert.rejects(store.open(path), isKind("not_found"), path);
        }
        await assert.rejects(store.list("../"), isKind("not_found"));
        assert.equal(server.control.seen.length, before);
      },
    );

    await t.step("5xx answers are retried twice, then unavailable", async () => {
      const source = await store.open("demo/cfg.json");
      server.control.failures = 2;
      assert.deepEqual(await readRange(source, { offset: 0, length: cfg.byteLength }), cfg);
      server.control.failures = 3;
      const error = await failure(readRange(source, { offset: 0, length: cfg.byteLength }));
      assert.equal(error.kind, "unavailable");
      assert.match(error.message, /503/);
    });

    await t.step(
      "a server that ignores Range: parts of a small object are cut from it",
      async () => {
        const plain = httpStore(new URL(server.base));
        const source = await plain.open("norange/w.bin");
        assert.deepEqual(
          await readRange(source, { offset: 0, length: weights.byteLength }),
          weights,
        );
        assert.deepEqual(
          await readRange(source, { offset: 10, length: 20 }),
          weights.subarray(10, 30),
        );
      },
    );

    await t.step("where HEAD is refused, the size comes from a one-byte GET", async () => {
      const plain = httpStore(new URL(`${server.base}/nohead/`));
      const source = await plain.open("w.bin");
      assert.equal(source.size, weights.byteLength);
      assert.deepEqual(await readRange(source, { offset: 5, length: 10 }), weights.subarray(5, 15));
      assert.equal((await plain.open("empty.bin")).size, 0, "416 bytes */0 is an empty object");
    });

    await t.step("ping passes while the server answers, even without index.json", async () => {
      await httpStore(new URL(`${server.base}/nothing-here/`)).ping();
      assert.deepEqual(await httpStore(new URL(`${server.base}/nothing-here/`)).list(""), []);
    });
  } finally {
    await server.close();
  }
});

Deno.test("httpStore sends user info as Basic auth and the query, and shows neither", async () => {
  const files = new Map([["/private/a.bin", randomBytes(100)]]);
  const server = startServer(files);
  const port = new URL(server.base).port;
  const secretUrl = new URL(
    `http://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/private?sig=${QUERY_SECRET}`,
  );
  try {
    const store = httpStore(secretUrl, { retryDelayMs: 5 });
    assert.equal(store.describe, `http://127.0.0.1:${port}/private`);
    const source = await store.open("a.bin");
    assert.deepEqual(
      await readRange(source, { offset: 10, length: 20 }),
      files.get("/private/a.bin")!.subarray(10, 30),
    );

    const missing = await failure(store.open("nope.bin"));
    assert.equal(missing.kind, "not_found");
    assertNoSecrets(missing);

    const anonymous = await failure(httpStore(new URL(`${server.base}/private/`)).open("a.bin"));
    assert.equal(anonymous.kind, "unavailable");
    assert.match(anonymous.message, /access denied \(401\)/);
  } finally {
    await server.close();
  }
  // The same address with nothing listening: the fetch error quotes the URL; ours must not.
  const down = await failure(httpStore(secretUrl, { retryDelayMs: 1 }).open("a.bin"));
  assert.equal(down.kind, "unavailable");
  assert.match(down.message, /cannot reach the store/);
  assertNoSecrets(down);
  await assert.rejects(httpStore(secretUrl, { retryDelayMs: 1 }).ping(), isKind("unavailable"));
});

/**
 * A raw TCP server: each connection's first request (its text) goes to `respond`, whose bytes
 * are written back before the connection is closed; `null` leaves the request unanswered.
 */
function rawServer(respond: (request: string) => Uint8Array | null): {
  base: string;
  close(): Promise<void>;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const handlers: Promise<void>[] = [];
  const handle = async (conn: Deno.Conn): Promise<void> => {
    const buffer = new Uint8Array(65536);
    const n = await conn.read(buffer).catch(() => null);
    const answer = respond(new TextDecoder().decode(buffer.subarray(0, n ?? 0)));
    if (answer === null) return; // hang: closed by close()
    try {
      for (let at = 0; at < answer.byteLength;) at += await conn.write(answer.subarray(at));
    } catch {
      // the client went away first
    }
    open.delete(conn);
    conn.close();
  };
  const serving = (async () => {
    for await (const conn of listener) {
      open.add(conn);
      handlers.push(handle(conn));
    }
  })();
  return {
    base: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close: async () => {
      listener.close();
      await serving.catch(() => {});
      for (const conn of open) conn.close();
      await Promise.all(handlers);
    },
  };
}

Deno.test("httpStore: a connection that breaks mid-body is unavailable", async () => {
  const text = new TextEncoder();
  const server = rawServer((request) => {
    if (request.startsWith("HEAD ")) {
      return text.encode("HTTP/1.1 200 OK\r\ncontent-length: 5000\r\nconnection: close\r\n\r\n");
    }
    const head = "HTTP/1.1 206 Partial Content\r\ncontent-length: 1000\r\n" +
      "content-range: bytes 0-999/5000\r\nconnection: close\r\n\r\n";
    return new Uint8Array([...text.encode(head), ...new Uint8Array(400)]);
  });
  try {
    const store = httpStore(new URL(server.base), { retryDelayMs: 1 });
    const source = await store.open("w.bin");
    assert.equal(source.size, 5000);
    const error = await failure(readRange(source, { offset: 0, length: 1000 }));
    assert.equal(error.kind, "unavailable");
    assert.match(error.message, /w\.bin/);
  } finally {
    await server.close();
  }
});

Deno.test("httpStore: a server that never answers times out as unavailable", async () => {
  const server = rawServer(() => null);
  try {
    const store = httpStore(new URL(server.base), { retries: 1, retryDelayMs: 1, timeoutMs: 100 });
    const started = performance.now();
    const error = await failure(store.open("w.bin"));
    assert.equal(error.kind, "unavailable");
    assert.match(error.message, /did not answer in time/);
    assert.ok(performance.now() - started < 2000);
  } finally {
    await server.close();
  }
});

Deno.test("httpStore refuses addresses that are not http(s)", () => {
  assert.throws(() => httpStore(new URL("ftp://example.com/x")), isKind("invalid"));
});
