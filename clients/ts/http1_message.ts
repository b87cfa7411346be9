/**
 * HTTP/1.1 messages for http1Fetch: a request's bytes (checked before anything is sent) and one
 * exchange on a connection, the answer framed by Content-Length, chunked coding or the end of
 * the connection, as a fetch Response.
 * @module
 */

import { concatBytes } from "./concat_bytes.ts";
import type { Connection } from "./http1_connection.ts";

/** The longest status line plus headers accepted. */
export const MAX_HEAD = 64 * 1024;
/** Bodies up to this size go out joined to the head, in one write. */
const JOIN_MAX = 64 * 1024;
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
/** Control characters a header value must not hold (a tab is allowed). */
// deno-lint-ignore no-control-regex
const FIELD_CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
/** The methods fetch normalises to upper case; any other is sent as written. */
const STANDARD_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const DIGITS = /^[0-9]{1,15}$/;
const HEX = /^[0-9A-Fa-f]{1,12}$/;
const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const CRLF = encoder.encode("\r\n");
const BLANK_LINE = encoder.encode("\r\n\r\n");

/** A request ready to send. */
export interface Request {
  /** As sent: fetch's normalisation applied. */
  readonly method: string;
  /** The head and body in one array, or for a larger body the head and the body as they are. */
  readonly parts: readonly Uint8Array[];
}

/** The request body as bytes; streams, forms and blobs are not supported. */
function bodyBytes(body: BodyInit | null | undefined): Uint8Array {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === "string") return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) {
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }
  if (body instanceof URLSearchParams) return encoder.encode(body.toString());
  throw new TypeError("http1Fetch sends strings, typed arrays and ArrayBuffers only");
}

/**
 * The request for `init` to `url`; TypeError for a control character or space in the request
 * line, an unsafe header or a GET / HEAD body. A body over 64 KiB is not copied behind the head
 * (2.4 MB into a fresh array cost ~3 ms on this host).
 */
export function requestOf(url: URL, init: RequestInit): Request {
  const upper = (init.method ?? "GET").toUpperCase();
  const method = STANDARD_METHODS.includes(upper) ? upper : init.method!;
  const target = url.pathname + url.search;
  if (!TOKEN.test(method) || CONTROL.test(target) || target.includes(" ")) {
    throw new TypeError("the request line holds a control character or a space");
  }
  const body = bodyBytes(init.body);
  const headers = new Headers(init.headers); // refuses CR / LF in names and values
  let head = `${method} ${target} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  for (const [name, value] of headers) {
    if (name === "host" || name === "content-length" || name === "connection") continue;
    if (name === "transfer-encoding" || FIELD_CONTROL.test(value)) {
      throw new TypeError(`header ${name} cannot be sent`);
    }
    head += `${name}: ${value}\r\n`;
  }
  if (!headers.has("accept-encoding")) head += "accept-encoding: identity\r\n";
  if (method === "GET" || method === "HEAD") {
    if (init.body !== undefined && init.body !== null) {
      throw new TypeError(`a ${method} request cannot have a body`);
    }
  } else head += `content-length: ${body.byteLength}\r\n`;
  const bytes = encoder.encode(head + "\r\n");
  const parts = body.byteLength > JOIN_MAX ? [bytes, body] : [concatBytes([bytes, body])];
  return { method, parts };
}

/** HTTP version, status, reason and headers of the answer's head. */
function parseHead(
  head: string,
): { version: string; status: number; reason: string; headers: Headers } {
  const lines = head.split("\r\n");
  const m = /^HTTP\/(1\.[01]) ([1-5][0-9]{2})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new TypeError(`not an HTTP/1.x status line: ${lines[0].slice(0, 80)}`);
  const headers = new Headers();
  for (const line of lines.slice(1)) {
    const at = line.indexOf(":");
    const name = line.slice(0, at);
    if (at <= 0 || !TOKEN.test(name)) throw new TypeError("a malformed header line in the answer");
    headers.append(name, line.slice(at + 1).trim());
  }
  return { version: m[1], status: Number(m[2]), reason: m[3] ?? "", headers };
}

/** A chunked body. */
async function readChunked(conn: Connection): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const line = latin1.decode(await conn.until(CRLF, 1024)).split(";")[0].trim();
    if (!HEX.test(line)) throw new TypeError("a malformed chunk size in the answer");
    const n = parseInt(line, 16);
    if (n === 0) break;
    parts.push(await conn.exactly(n));
    if ((await conn.exactly(2)).some((b, i) => b !== CRLF[i])) {
      throw new TypeError("a chunk without its line end");
    }
  }
  while ((await conn.until(CRLF, MAX_HEAD)).byteLength) { /* trailers, ignored */ }
  return concatBytes(parts);
}

/** The answer's body length from Content-Length (a repeated header arrives joined: "5, 5"). */
function contentLength(value: string): number {
  const values = new Set(value.split(",").map((v) => v.trim()));
  const [only] = values;
  if (values.size !== 1 || !DIGITS.test(only)) {
    throw new TypeError(`a bad content-length: ${value}`);
  }
  return Number(only);
}

/** Send `request` on `conn` and read its answer: the Response and whether `conn` can be kept. */
export async function exchange(
  conn: Connection,
  request: Request,
): Promise<{ response: Response; keep: boolean }> {
  conn.begin();
  if (request.parts.length > 1) conn.socket.cork(); // the parts leave together
  for (const part of request.parts) conn.socket.write(part);
  if (request.parts.length > 1) conn.socket.uncork();
  for (;;) {
    const head = parseHead(latin1.decode(await conn.until(BLANK_LINE, MAX_HEAD)));
    const { status, headers } = head;
    if (status === 101) throw new TypeError("the server switched protocols");
    if (status < 200) continue; // 100 Continue and other interim answers
    const coding = headers.get("transfer-encoding")?.toLowerCase();
    const length = headers.get("content-length");
    const encoded = headers.get("content-encoding");
    if (encoded && encoded.toLowerCase() !== "identity") {
      throw new TypeError(`an encoded answer (${encoded}) was not asked for`);
    }
    const tokens = (headers.get("connection") ?? "").toLowerCase().split(",").map((t) => t.trim());
    let keep = head.version === "1.1" ? !tokens.includes("close") : tokens.includes("keep-alive");
    let body: Uint8Array<ArrayBuffer> | null;
    if (request.method === "HEAD" || status === 204 || status === 304) body = null;
    else if (coding !== undefined) {
      if (coding !== "chunked" || length !== null) {
        throw new TypeError(`an answer with transfer-encoding ${coding} cannot be read`);
      }
      body = await readChunked(conn);
    } else if (length !== null) body = await conn.exactly(contentLength(length));
    else {
      body = await conn.rest();
      keep = false;
    }
    // fetch gives a 205 no body (whatever its framing carried).
    const response = new Response(status === 205 ? null : body, {
      status,
      statusText: head.reason,
      headers,
    });
    return { response, keep };
  }
}
