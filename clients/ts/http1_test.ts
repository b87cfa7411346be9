import assert from "node:assert/strict";
import { http1Fetch } from "./http1.ts";
import { closing, echoServer, selfSigned, withScripted } from "./http1_test_servers.ts";

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

Deno.test("http1Fetch: a stale pooled connection is resent once on a fresh one", async () => {
  // The first connection answers once, then closes when the second request arrives.
  await withScripted([
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1",
    "close",
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2",
  ], async (s, fetch1) => {
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
  });
});

Deno.test("http1Fetch: an abort or timeout closes the connection and rejects with the reason", async () => {
  await withScripted([], async (s, fetch1) => { // reads requests, never answers
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
  });
});

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
      await withScripted(
        [ok("1"), closing("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")],
        async (s, fetch1) => {
          assert.equal(await (await fetch1(`${s.url}/one`)).text(), "1");
          await assert.rejects(
            fetch1(`${s.url}/two`, {
              method: "POST",
              body: "b",
              signal: AbortSignal.timeout(3000),
            }),
            /cut off/,
          );
          assert.equal(s.requests.length, 2);
          assert.equal(s.connections(), 1);
        },
      );
    },
  );
  await t.step("a fresh connection that ends without answering: an error, sent once", async () => {
    await withScripted(["close", ok("never")], async (s, fetch1) => {
      await assert.rejects(
        fetch1(`${s.url}/x`, { method: "POST", body: "b", signal: AbortSignal.timeout(3000) }),
        /closed/,
      );
      assert.equal(s.requests.length, 1);
      assert.equal(s.connections(), 1);
    });
  });
});

Deno.test("http1Fetch: close() during an exchange closes that connection when it ends", async () => {
  const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  await withScripted([ok, ok], async (s, fetch1) => {
    const pending = fetch1(`${s.url}/a`);
    fetch1.close();
    assert.equal(await (await pending).text(), "ok");
    assert.equal(await (await fetch1(`${s.url}/b`)).text(), "ok");
    assert.equal(s.connections(), 2, "the first connection was not pooled after close()");
  });
});

Deno.test("http1Fetch: an abort closes the socket, also while connecting and with a falsy reason", async () => {
  await withScripted([], async (s, fetch1) => { // reads requests, never answers
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
  });
});
