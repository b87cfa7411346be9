/**
 * http1Fetch's framing against a scripted server: chunked, 1xx, HTTP/1.0, read-to-close, 205 /
 * 304, repeated Content-Length, malformed or cut-off answers, and requests refused before sending.
 * @module
 */

import assert from "node:assert/strict";
import { closing, withScripted } from "./http1_test_servers.ts";

Deno.test("http1Fetch: chunked with extensions and trailers, 100 Continue, read-to-close, HTTP/1.0", async () => {
  await withScripted([
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n",
    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Two: a\r\nX-Two: b\r\n\r\nok",
    "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\none",
    closing("HTTP/1.1 200 OK\r\n\r\nuntil the end\r\n\r\n"),
  ], async (s, fetch1) => {
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
  });
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
    await withScripted([closing(answer)], async (s, fetch1) => {
      await assert.rejects(
        fetch1(`${s.url}/x`, { method: "POST", body: "b" }),
        message,
        answer,
      );
      assert.equal(s.requests.length, 1, `sent once: ${answer.slice(0, 40)}`);
    });
  }
});

Deno.test("http1Fetch: unsafe request lines, headers and bodies are refused before sending", async () => {
  await withScripted([], async (s, fetch1) => {
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
  });
});

Deno.test("http1Fetch: 205, 304 and repeated content-length as fetch reads them; a status below 100 is refused", async () => {
  await withScripted([
    "HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nfive!",
    closing("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nfive!"),
  ], async (s, fetch1) => {
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
  });
  await withScripted([closing("HTTP/1.1 099 Early\r\n\r\n")], async (s, fetch1) => {
    await assert.rejects(fetch1(`${s.url}/x`), /status line/);
    await assert.rejects(fetch1(`${s.url}/x`, { body: "x" }), /GET request cannot have a body/);
    assert.equal(s.requests.length, 1, "the GET with a body was not sent");
  });
});
