import assert from "node:assert/strict";
import { http1Fetch } from "./http1.ts";

const encoder = new TextEncoder();

/** A real Deno.serve echoing method, path, headers and body; counts connections by peer port. */
function echoServer() {
  const peers = new Set<number>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req, info) => {
      peers.add(info.remoteAddr.port);
      const url = new URL(req.url);
      if (url.pathname === "/empty") return new Response(null, { status: 204 });
      if (url.pathname === "/close") {
        return new Response("bye", { headers: { connection: "close" } });
      }
      if (url.pathname === "/stream") {
        // No length known in advance: Deno sends it chunked.
        const parts = ["a", "bb", "ccc"].map((s) => encoder.encode(s));
        return new Response(ReadableStream.from(parts));
      }
      const body = new Uint8Array(await req.arrayBuffer());
      return new Response(body, {
        status: url.pathname === "/missing" ? 404 : 200,
        headers: {
          "x-method": req.method,
          "x-path": url.pathname + url.search,
          "x-type": req.headers.get("content-type") ?? "",
          "x-encoding": req.headers.get("accept-encoding") ?? "",
        },
      });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    peers,
    close: () => server.shutdown(),
  };
}

/** A scripted answer after which the server closes the connection. */
type Closing = { readonly text: string; readonly close: true };
const closing = (text: string): Closing => ({ text, close: true });

/**
 * A TCP server that answers each request (a head plus its content-length body) with the next
 * scripted text; "close" closes the connection instead; once the script is done it reads on
 * and never answers.
 */
function scripted(script: (string | Closing)[]) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: string[] = [];
  let connections = 0;
  let ended = 0;
  const conns = new Set<Deno.Conn>();
  const serve = async (conn: Deno.Conn) => {
    connections++;
    conns.add(conn);
    const buf = new Uint8Array(1 << 16);
    let pending = "";
    try {
      for (;;) {
        const end = pending.indexOf("\r\n\r\n");
        const length = Number(/content-length: (\d+)/i.exec(pending)?.[1] ?? 0);
        if (end >= 0 && pending.length >= end + 4 + length) {
          requests.push(pending.slice(0, end + 4 + length));
          pending = pending.slice(end + 4 + length);
          const answer = script.shift();
          if (answer === undefined) continue;
          if (answer === "close") break;
          await conn.write(
            encoder.encode(typeof answer === "string" ? answer : answer.text),
          );
          if (typeof answer !== "string") break;
          continue;
        }
        const n = await conn.read(buf);
        if (n === null) break;
        pending += new TextDecoder("latin1").decode(buf.subarray(0, n));
      }
    } catch { /* the client went away */ }
    conns.delete(conn);
    ended++;
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  const accepting = (async () => {
    for await (const conn of listener) serve(conn);
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    requests,
    connections: () => connections,
    /** Connections that have ended (either side closed). */
    ended: () => ended,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting;
    },
  };
}

Deno.test("http1Fetch: bodies, headers and statuses against Deno.serve, on one kept connection", async () => {
  const s = echoServer();
  const fetch1 = http1Fetch();
  try {
    const body = new Uint8Array(3 << 20).map((_, i) => i * 7);
    const res = await fetch1(`${s.url}/echo?top=8&x=%20`, {
      method: "POST",
      body,
      headers: { "content-type": "application/x-npy" },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-method"), "POST");
    assert.equal(res.headers.get("x-path"), "/echo?top=8&x=%20");
    assert.equal(res.headers.get("x-type"), "application/x-npy");
    assert.equal(res.headers.get("x-encoding"), "identity");
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), body);

    const text = await fetch1(`${s.url}/t`, { method: "PUT", body: "héllo" });
    assert.equal(await text.text(), "héllo");
    const missing = await fetch1(`${s.url}/missing`);
    assert.equal(missing.status, 404);
    assert.equal(missing.ok, false);
    const empty = await fetch1(`${s.url}/empty`, { method: "DELETE" });
    assert.equal(empty.status, 204);
    assert.equal(empty.body, null);
    const head = await fetch1(`${s.url}/echo`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.body, null);
    const streamed = await fetch1(`${s.url}/stream`);
    assert.equal(await streamed.text(), "abbccc");
    assert.equal(s.peers.size, 1, "every exchange reused the one connection");

    assert.equal(await (await fetch1(`${s.url}/close`)).text(), "bye");
    await fetch1(`${s.url}/echo`);
    assert.equal(s.peers.size, 2, "connection: close is honoured");
  } finally {
    fetch1.close();
    await s.close();
  }
});

Deno.test("http1Fetch: concurrent requests open their own connections, kept up to maxIdle", async () => {
  const s = echoServer();
  const fetch1 = http1Fetch({ maxIdle: 2 });
  try {
    const answers = await Promise.all(
      Array.from(
        { length: 5 },
        (_, i) => fetch1(`${s.url}/n${i}`).then((r) => r.headers),
      ),
    );
    assert.deepEqual(answers.map((h) => h.get("x-path")), [
      "/n0",
      "/n1",
      "/n2",
      "/n3",
      "/n4",
    ]);
    assert.equal(s.peers.size, 5);
    await Promise.all([fetch1(`${s.url}/a`), fetch1(`${s.url}/b`)]);
    assert.equal(s.peers.size, 5, "two idle connections were kept and reused");
    await Promise.all([
      fetch1(`${s.url}/a`),
      fetch1(`${s.url}/b`),
      fetch1(`${s.url}/c`),
    ]);
    assert.equal(s.peers.size, 6, "the third was not kept");
  } finally {
    fetch1.close();
    await s.close();
  }
});

Deno.test("http1Fetch: chunked with extensions and trailers, 100 Continue, read-to-close, HTTP/1.0", async () => {
  const s = scripted([
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n",
    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Two: a\r\nX-Two: b\r\n\r\nok",
    "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\none",
    closing("HTTP/1.1 200 OK\r\n\r\nuntil the end\r\n\r\n"),
  ]);
  const fetch1 = http1Fetch();
  try {
    const chunked = await fetch1(`${s.url}/a`);
    assert.equal(await chunked.text(), "abc0123456789");
    const created = await fetch1(`${s.url}/b`, { method: "POST", body: "x" });
    assert.equal(created.status, 201);
    assert.equal(created.statusText, "Created");
    assert.equal(created.headers.get("x-two"), "a, b");
    assert.equal(await created.text(), "ok");
    assert.equal(s.connections(), 1);
    assert.equal(await (await fetch1(`${s.url}/c`)).text(), "one");
    assert.equal(
      await (await fetch1(`${s.url}/d`)).text(),
      "until the end\r\n\r\n",
    );
    assert.equal(
      s.connections(),
      2,
      "an HTTP/1.0 answer without keep-alive is not kept",
    );
    assert.match(
      s.requests[0],
      /^GET \/a HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\n/,
    );
    assert.match(s.requests[1], /content-length: 1\r\n\r\nx$/);
  } finally {
    fetch1.close();
    await s.close();
  }
});

Deno.test("http1Fetch: a stale pooled connection is resent once on a fresh one", async () => {
  // The first connection answers once, then closes when the second request arrives.
  const s = scripted([
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1",
    "close",
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2",
  ]);
  const fetch1 = http1Fetch();
  try {
    assert.equal(await (await fetch1(`${s.url}/one`)).text(), "1");
    assert.equal(
      await (await fetch1(`${s.url}/two`, { method: "POST", body: "b" }))
        .text(),
      "2",
    );
    assert.equal(s.connections(), 2);
    assert.equal(
      s.requests.length,
      3,
      "the request was sent on the stale one and once again",
    );
  } finally {
    fetch1.close();
    await s.close();
  }
});

Deno.test("http1Fetch: an answer cut off or malformed is an error and never resent", async () => {
  const cases: [string, RegExp][] = [
    ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", /cut off/],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", /cut off/],
    [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      /chunk size/,
    ],
    ["HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", /content-length/],
    [
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
      /cannot be read/,
    ],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", /cannot be read/],
    [
      "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n",
      /not asked for/,
    ],
    ["HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", /malformed header/],
    ["SMTP ready\r\n\r\n", /status line/],
    ["HTTP/1.1 101 Switching Protocols\r\n\r\n", /switched/],
    ["HTTP/1.1 200 OK\r\nX: " + "y".repeat(70000), /too long/],
    ["HTTP/1.1 200 OK\r\nX: " + "y".repeat(70000) + "\r\nContent-Length: 0\r\n\r\n", /too long/],
  ];
  for (const [answer, message] of cases) {
    const s = scripted([closing(answer)]);
    const fetch1 = http1Fetch();
    try {
      await assert.rejects(
        fetch1(`${s.url}/x`, { method: "POST", body: "b" }),
        message,
        answer,
      );
      assert.equal(s.requests.length, 1, `sent once: ${answer.slice(0, 40)}`);
    } finally {
      fetch1.close();
      await s.close();
    }
  }
});

Deno.test("http1Fetch: an abort or timeout closes the connection and rejects with the reason", async () => {
  const s = scripted([]); // reads requests, never answers
  const fetch1 = http1Fetch();
  try {
    const err = await fetch1(`${s.url}/slow`, {
      signal: AbortSignal.timeout(50),
    }).catch((e) => e);
    assert.equal(err.name, "TimeoutError");
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await assert.rejects(
      fetch1(`${s.url}/x`, { signal: controller.signal }),
      /stop/,
    );
  } finally {
    fetch1.close();
    await s.close();
  }
});

Deno.test("http1Fetch: unsafe request lines, headers and bodies are refused before sending", async () => {
  const s = scripted([]);
  const fetch1 = http1Fetch();
  try {
    await assert.rejects(
      fetch1(`${s.url}/x`, { headers: { "x-a": "1\r\nx-b: 2" } }),
      TypeError,
    );
    await assert.rejects(
      fetch1(`${s.url}/x`, { method: "GET /y" }),
      /request line/,
    );
    await assert.rejects(
      fetch1(`${s.url}/x`, { headers: { "transfer-encoding": "chunked" } }),
    );
    await assert.rejects(
      fetch1(`${s.url}/x`, { method: "POST", body: new Blob(["a"]) }),
      /only/,
    );
    await assert.rejects(fetch1("ftp://127.0.0.1/x"), /not ftp/);
    assert.equal(s.connections(), 0, "nothing was sent");
    const refused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (refused.addr as Deno.NetAddr).port;
    refused.close();
    await assert.rejects(
      fetch1(`http://127.0.0.1:${port}/x`),
      /ECONNREFUSED|refused/i,
    );
  } finally {
    fetch1.close();
    await s.close();
  }
});

/** A self-signed certificate for 127.0.0.1 made by openssl, or undefined without openssl. */
async function selfSigned(): Promise<
  { cert: string; key: string } | undefined
> {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-tls-" });
  try {
    const out = await new Deno.Command("openssl", {
      args: [
        ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"],
        ...["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        ...["-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`],
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!out.success) return undefined;
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } catch {
    return undefined; // no openssl here
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("http1Fetch: https checks the certificate and trusts one given as ca", async (t) => {
  const pair = await selfSigned();
  if (!pair) {
    return void await t.step({
      name: "needs openssl",
      ignore: true,
      fn: () => {},
    });
  }
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, ...pair },
    (req) => new Response(`tls ${new URL(req.url).pathname}`),
  );
  const url = `https://127.0.0.1:${server.addr.port}`;
  const untrusting = http1Fetch();
  const trusting = http1Fetch({ ca: pair.cert });
  try {
    await assert.rejects(
      untrusting(`${url}/a`),
      /certificate|self[- ]signed|UnknownIssuer/i,
    );
    assert.equal(await (await trusting(`${url}/b`)).text(), "tls /b");
    assert.equal(await (await trusting(`${url}/c`)).text(), "tls /c");
  } finally {
    untrusting.close();
    trusting.close();
    await server.shutdown();
  }
});

Deno.test("http1Fetch: a request is sent again only when a pooled connection gave no byte back", async (t) => {
  const ok = (text: string) => `HTTP/1.1 200 OK\r\nContent-Length: ${text.length}\r\n\r\n${text}`;
  await t.step(
    "part of the answer, then the pooled connection ends: an error, sent once",
    async () => {
      const s = scripted([ok("1"), closing("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")]);
      const fetch1 = http1Fetch();
      try {
        assert.equal(await (await fetch1(`${s.url}/one`)).text(), "1");
        await assert.rejects(
          fetch1(`${s.url}/two`, { method: "POST", body: "b", signal: AbortSignal.timeout(3000) }),
          /cut off/,
        );
        assert.equal(s.requests.length, 2);
        assert.equal(s.connections(), 1);
      } finally {
        fetch1.close();
        await s.close();
      }
    },
  );
  await t.step("a fresh connection that ends without answering: an error, sent once", async () => {
    const s = scripted(["close", ok("never")]);
    const fetch1 = http1Fetch();
    try {
      await assert.rejects(
        fetch1(`${s.url}/x`, { method: "POST", body: "b", signal: AbortSignal.timeout(3000) }),
        /closed/,
      );
      assert.equal(s.requests.length, 1);
      assert.equal(s.connections(), 1);
    } finally {
      fetch1.close();
      await s.close();
    }
  });
});

Deno.test("http1Fetch: 205, 304 and repeated content-length as fetch reads them; a status below 100 is refused", async () => {
  const s = scripted([
    "HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nfive!",
    closing("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nfive!"),
  ]);
  const fetch1 = http1Fetch();
  try {
    const reset = await fetch1(`${s.url}/a`, { method: "post", body: "x" });
    assert.equal(reset.status, 205);
    assert.equal(reset.body, null);
    const cached = await fetch1(`${s.url}/b`);
    assert.equal(cached.status, 304);
    assert.equal(cached.body, null);
    assert.equal(await (await fetch1(`${s.url}/c`)).text(), "five!");
    assert.equal(s.connections(), 1, "all on one connection");
    await assert.rejects(fetch1(`${s.url}/d`), /content-length/);
    assert.match(s.requests[0], /^POST \/a /, "post is normalised as fetch does");
  } finally {
    fetch1.close();
    await s.close();
  }
  const low = scripted([closing("HTTP/1.1 099 Early\r\n\r\n")]);
  const again = http1Fetch();
  try {
    await assert.rejects(again(`${low.url}/x`), /status line/);
  } finally {
    again.close();
    await low.close();
  }
  await assert.rejects(
    again("http://127.0.0.1:1/x", { body: "x" }),
    /GET request cannot have a body/,
  );
});

Deno.test("http1Fetch: close() during an exchange closes that connection when it ends", async () => {
  const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  const s = scripted([ok, ok]);
  const fetch1 = http1Fetch();
  try {
    const pending = fetch1(`${s.url}/a`);
    fetch1.close();
    assert.equal(await (await pending).text(), "ok");
    assert.equal(await (await fetch1(`${s.url}/b`)).text(), "ok");
    assert.equal(s.connections(), 2, "the first connection was not pooled after close()");
  } finally {
    fetch1.close();
    await s.close();
  }
});

Deno.test("http1Fetch: an abort closes the socket, also while connecting and with a falsy reason", async () => {
  const s = scripted([]); // reads requests, never answers
  const fetch1 = http1Fetch();
  try {
    const controller = new AbortController();
    const pending = fetch1(`${s.url}/slow`, { signal: controller.signal });
    while (s.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort(0);
    assert.equal(await pending.catch((e) => e), 0);
    while (s.ended() === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(s.ended(), 1, "the server saw the connection end");
    // https to a plain TCP server: the handshake never completes.
    const connecting = new AbortController();
    const handshake = fetch1(`${s.url.replace("http:", "https:")}/x`, {
      signal: connecting.signal,
    });
    setTimeout(() => connecting.abort(""), 50);
    assert.equal(await handshake.catch((e) => e), "");
  } finally {
    fetch1.close();
    await s.close();
  }
});
