/**
 * Test support for http1Fetch: a real Deno.serve that echoes, a scripted TCP server that answers
 * byte for byte what a test tells it, and a self-signed certificate. Not part of the package.
 * @module
 */

import { type Http1Fetch, http1Fetch } from "./http1.ts";

const encoder = new TextEncoder();

/** A running echo server. */
export interface EchoServer {
  readonly url: string;
  /** Peer ports seen: one per connection. */
  readonly peers: Set<number>;
  close(): Promise<void>;
}

/** A running scripted server. */
export interface Scripted {
  readonly url: string;
  /** Every request received, head and body, as latin1 text. */
  readonly requests: string[];
  /** Connections accepted. */
  connections(): number;
  /** Connections that have ended (either side closed). */
  ended(): number;
  close(): Promise<void>;
}

/** A real Deno.serve echoing method, path, headers and body; counts connections by peer port. */
export function echoServer(): EchoServer {
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
export type Closing = { readonly text: string; readonly close: true };
/** `text` answered, then the connection closed. */
export function closing(text: string): Closing {
  return { text, close: true };
}

/**
 * A TCP server that answers each request (a head plus its content-length body) with the next
 * scripted text; "close" closes the connection instead; once the script is done it reads on
 * and never answers.
 */
export function scripted(script: (string | Closing)[]): Scripted {
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

/** Run `body` with a scripted server and a fresh http1Fetch, closing both after. */
export async function withScripted(
  script: (string | Closing)[],
  body: (s: Scripted, fetch1: Http1Fetch) => Promise<void>,
): Promise<void> {
  const s = scripted(script);
  const fetch1 = http1Fetch();
  try {
    await body(s, fetch1);
  } finally {
    fetch1.close();
    await s.close();
  }
}

/** A self-signed certificate for 127.0.0.1 made by openssl, or undefined without openssl. */
export async function selfSigned(): Promise<
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
