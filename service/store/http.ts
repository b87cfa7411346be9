/**
 * HTTP(S) objects read with ranged GETs, and the read-only `https://` store built on them.
 * The pieces here (retrying requests, status mapping, ranged ByteSources) are shared by the
 * S3 and Hugging Face stores, which differ only in how they address and sign requests.
 * @module
 */

import type { ByteSource } from "../../domain/io/byte_source.ts";
import { FormatError, SaeError } from "../../domain/errors.ts";
import type { Store, StoreEntry } from "./mod.ts";
import { encodePath, isObjectPath, objectPath } from "./object_path.ts";

/** How hard to retry a request that failed before its first byte arrived. */
export interface RetryOptions {
  /** Extra attempts after a network error, a timeout or a 5xx answer. Default 2. */
  readonly retries?: number;
  /** Delay before the first retry; each later one waits four times longer. Default 100 ms. */
  readonly retryDelayMs?: number;
  /** Longest wait for an answer's status and headers, per attempt. Default 30 000 ms. */
  readonly timeoutMs?: number;
}

/** Options for {@link fetchWithRetry}. */
export interface FetchRetryOptions extends RetryOptions {
  /** What is being fetched, as shown in errors: a store address and path, never a secret. */
  readonly label: string;
}

/** Sends one attempt of a request; `signal` aborts it when the attempt times out. */
export type Sender = (signal: AbortSignal) => Promise<Response>;

/**
 * Call `send` until it answers below 500, retrying network errors, timeouts and 5xx answers
 * with a short backoff. Returns the last response whatever its status (a 5xx after the last
 * retry included); throws SaeError "unavailable" when the server could not be reached at all.
 */
export async function fetchWithRetry(send: Sender, options: FetchRetryOptions): Promise<Response> {
  const retries = options.retries ?? 2;
  const delay = options.retryDelayMs ?? 100;
  const timeoutMs = options.timeoutMs ?? 30_000;
  for (let attempt = 0;; attempt++) {
    let response: Response;
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException(`no answer in ${timeoutMs} ms`, "TimeoutError")),
      timeoutMs,
    );
    try {
      response = await send(controller.signal);
    } catch (error) {
      if (error instanceof SaeError) throw error;
      if (attempt >= retries) {
        const why = controller.signal.aborted
          ? "the store did not answer in time"
          : "cannot reach the store";
        throw new SaeError("unavailable", `${options.label}: ${why}`, { cause: scrubbed(error) });
      }
      await sleep(delay * 4 ** attempt);
      continue;
    } finally {
      clearTimeout(timer);
    }
    if (response.status < 500 || attempt >= retries) return response;
    await response.body?.cancel().catch(() => {});
    await sleep(delay * 4 ** attempt);
  }
}

/** Options for {@link responseError}. */
export interface ResponseErrorOptions {
  /** A short, secret-free detail to add after the status, e.g. an S3 error code. */
  readonly detail?: string;
}

/**
 * The SaeError for a failed response (its body is discarded): 404 and 410 are "not_found",
 * 401 and 403 "unavailable" saying access was denied, anything else "unavailable".
 */
export async function responseError(
  response: Response,
  label: string,
  options: ResponseErrorOptions = {},
): Promise<SaeError> {
  await response.body?.cancel().catch(() => {});
  const status = options.detail ? `${response.status} ${options.detail}` : `${response.status}`;
  switch (response.status) {
    case 404:
    case 410:
      return new SaeError("not_found", `${label} not found (${status})`);
    case 401:
    case 403:
      return new SaeError("unavailable", `${label}: access denied (${status})`);
    default:
      return new SaeError("unavailable", `${label}: the store answered ${status}`);
  }
}

/** Sends one attempt of a GET for the byte range in `range` (e.g. "bytes=0-9"). */
export type RangeFetcher = (range: string, signal: AbortSignal) => Promise<Response>;

/**
 * A ByteSource over an object of `size` bytes read with ranged GETs. Each stream is one
 * request, retried only until its first byte; the answer must be 206 for exactly the range
 * asked (or 200 when the range is the whole object), and a body that breaks off, or runs
 * long or short, errors the stream with SaeError "unavailable".
 */
export function rangedSource(
  size: number,
  fetchRange: RangeFetcher,
  options: FetchRetryOptions,
): ByteSource {
  const { label } = options;
  return {
    size,
    async stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>> {
      checkRange(offset, length, { size, label });
      if (length === 0) return new ReadableStream({ start: (c) => c.close() });
      const last = offset + length - 1;
      const response = await fetchWithRetry(
        (signal) => fetchRange(`bytes=${offset}-${last}`, signal),
        options,
      );
      const whole = offset === 0 && length === size;
      if (response.status === 200 && !whole) {
        await response.body?.cancel();
        throw new SaeError("unavailable", `${label}: the server ignored the Range header`);
      }
      if (response.status !== 200 && response.status !== 206) {
        throw await responseError(response, label);
      }
      const range = contentRange(response.headers.get("content-range"));
      const declared = declaredLength(response.headers);
      if (
        (response.status === 206 && range && (range.start !== offset || range.end !== last)) ||
        (declared !== null && declared !== length) || response.body === null
      ) {
        await response.body?.cancel();
        throw new SaeError(
          "unavailable",
          `${label}: the store answered a different range than bytes ${offset}-${last}`,
        );
      }
      return exactBody(response.body, { length, label });
    },
  };
}

/** Options for {@link checkRange}. */
export interface CheckRangeOptions {
  /** The object's size in bytes. */
  readonly size: number;
  /** The object, as shown in errors. */
  readonly label: string;
}

/** Throw FormatError unless [offset, offset + length) is a range of whole bytes inside the object. */
export function checkRange(offset: number, length: number, options: CheckRangeOptions): void {
  const { size, label } = options;
  if (
    !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 ||
    offset + length > size
  ) {
    throw new FormatError("bytes", `range ${offset}+${length} outside ${size} bytes of ${label}`);
  }
}

/** Options for {@link httpObject}. */
export interface HttpObjectOptions extends FetchRetryOptions {
  /** Headers for every request (e.g. Authorization). */
  readonly headers?: HeadersInit;
  /** The fetch to use; default the global one. */
  readonly fetch?: typeof fetch;
}

/**
 * Open the object at `url` for ranged reads: its size comes from a HEAD (or, where HEAD is
 * refused or says nothing, from a GET of its first byte). 404 is SaeError "not_found".
 */
export async function httpObject(url: URL, options: HttpObjectOptions): Promise<ByteSource> {
  const send = options.fetch ?? fetch;
  const { label } = options;
  const request = (method: string, extra?: Record<string, string>): Sender => (signal) => {
    const headers = new Headers(options.headers);
    headers.set("accept-encoding", "identity");
    for (const [name, value] of Object.entries(extra ?? {})) headers.set(name, value);
    return send(url, { method, headers, signal });
  };

  let size: number | null = null;
  const head = await fetchWithRetry(request("HEAD"), options);
  if (head.ok) {
    size = declaredLength(head.headers);
  } else if (head.status !== 405 && head.status !== 501) {
    throw await responseError(head, label);
  }
  await head.body?.cancel();
  if (size === null) {
    const probe = await fetchWithRetry(request("GET", { range: "bytes=0-0" }), options);
    const range = contentRange(probe.headers.get("content-range"));
    if (probe.status === 206 || probe.status === 416) size = range?.total ?? null;
    else if (probe.status === 200) size = declaredLength(probe.headers);
    else throw await responseError(probe, label);
    await probe.body?.cancel();
    if (size === null) throw new SaeError("unavailable", `${label}: the store gave no size`);
  }
  return rangedSource(size, (range, signal) => request("GET", { range })(signal), options);
}

/** Options for {@link httpStore}. */
export interface HttpStoreOptions extends RetryOptions {
  /** Headers for every request, e.g. `{ authorization: "Bearer ..." }`; never shown. */
  readonly headers?: Record<string, string>;
  /** The fetch to use; default the global one. */
  readonly fetch?: typeof fetch;
}

/**
 * A read-only store over plain HTTP(S) at `url` (a folder: objects are at `url/path`). Its
 * listing is the optional `index.json` at the root, a JSON array of `{path, size}` or of path
 * strings; without one the store lists nothing but still opens any path. User info in the
 * URL becomes Basic authorization; the query string, if any, is sent with every request;
 * neither appears in `describe`.
 */
export function httpStore(url: URL, options: HttpStoreOptions = {}): Store {
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new SaeError("invalid", `an HTTP store needs an http(s) URL, not ${url.protocol}`);
  }
  const base = new URL(url);
  const headers = new Headers(options.headers);
  if (base.username || base.password) {
    if (!headers.has("authorization")) {
      const user = decodeURIComponent(base.username);
      const pass = decodeURIComponent(base.password);
      headers.set("authorization", `Basic ${btoa(toLatin1(`${user}:${pass}`))}`);
    }
    base.username = "";
    base.password = "";
  }
  base.hash = "";
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  const describe = `${base.origin}${base.pathname.replace(/\/$/, "")}`;
  const send = options.fetch ?? fetch;
  const at = (path: string): URL => {
    const target = new URL(base);
    target.pathname = base.pathname + encodePath(path);
    return target;
  };
  const objectOptions = (path: string): HttpObjectOptions => ({
    ...options,
    headers,
    label: `${describe}/${path}`,
  });

  return {
    describe,

    async list(prefix: string): Promise<StoreEntry[]> {
      const folder = objectPath(prefix, { allowEmpty: true });
      const label = `${describe}/index.json`;
      const response = await fetchWithRetry(
        (signal) => send(at("index.json"), { headers, signal }),
        { ...options, label },
      );
      if (response.status === 404 || response.status === 410) {
        await response.body?.cancel();
        return [];
      }
      if (!response.ok) throw await responseError(response, label);
      let index: unknown;
      try {
        index = await response.json();
      } catch (error) {
        throw new SaeError("unavailable", `${label} is not JSON`, { cause: error });
      }
      if (!Array.isArray(index)) throw new SaeError("unavailable", `${label} is not a JSON array`);
      const under = (path: string): boolean => folder === "" || path.startsWith(`${folder}/`);
      const entries: StoreEntry[] = [];
      const unsized: string[] = [];
      for (const item of index) {
        const path = typeof item === "string" ? item : item?.path;
        if (typeof path !== "string") throw new SaeError("unavailable", `${label}: bad entry`);
        if (!isObjectPath(path) || !under(path)) continue; // never anything outside the root
        if (typeof item === "string") unsized.push(path);
        else if (Number.isSafeInteger(item.size) && item.size >= 0) {
          entries.push({ path, size: item.size });
        } else throw new SaeError("unavailable", `${label}: bad size for ${JSON.stringify(path)}`);
      }
      for (let i = 0; i < unsized.length; i += 8) {
        const batch = unsized.slice(i, i + 8);
        const sources = await Promise.all(batch.map((p) => httpObject(at(p), objectOptions(p))));
        batch.forEach((path, j) => entries.push({ path, size: sources[j].size }));
      }
      return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },

    async open(path: string): Promise<ByteSource> {
      const relative = objectPath(path);
      return await httpObject(at(relative), objectOptions(relative));
    },

    async ping(): Promise<void> {
      const label = describe;
      const response = await fetchWithRetry(
        (signal) => send(at("index.json"), { method: "HEAD", headers, signal }),
        { ...options, label },
      );
      await response.body?.cancel();
      if (response.status >= 500 || response.status === 401 || response.status === 403) {
        throw await responseError(response, label);
      }
    },
  };
}

interface ExactBodyOptions {
  readonly length: number;
  readonly label: string;
}

/** `body`, checked to carry exactly `length` bytes; breaks and mismatches are "unavailable". */
function exactBody(
  body: ReadableStream<Uint8Array>,
  options: ExactBodyOptions,
): ReadableStream<Uint8Array> {
  const { length, label } = options;
  const reader = body.getReader();
  let received = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        controller.error(
          new SaeError(
            "unavailable",
            `${label}: the connection broke after ${received} of ${length} bytes`,
            { cause: scrubbed(error) },
          ),
        );
        return;
      }
      if (chunk.done) {
        if (received === length) controller.close();
        else {
          controller.error(
            new SaeError(
              "unavailable",
              `${label}: the body ended after ${received} of ${length} bytes`,
            ),
          );
        }
        return;
      }
      received += chunk.value.byteLength;
      if (received > length) {
        await reader.cancel().catch(() => {});
        controller.error(
          new SaeError("unavailable", `${label}: more than the ${length} bytes asked`),
        );
        return;
      }
      controller.enqueue(chunk.value);
    },
    async cancel(reason): Promise<void> {
      await reader.cancel(reason);
    },
  });
}

interface ContentRange {
  readonly start: number | null;
  readonly end: number | null;
  readonly total: number | null;
}

function contentRange(header: string | null): ContentRange | null {
  if (!header) return null;
  const match = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)\s*$/i.exec(header.trim());
  if (!match) return null;
  const number = (text: string | undefined): number | null =>
    text === undefined || text === "*" ? null : Number(text);
  return { start: number(match[1]), end: number(match[2]), total: number(match[3]) };
}

/** Content-Length, when it is present and describes the bytes as stored (not encoded). */
function declaredLength(headers: Headers): number | null {
  const encoding = headers.get("content-encoding");
  if (encoding && encoding.toLowerCase() !== "identity") return null;
  const text = headers.get("content-length");
  return text !== null && /^\d+$/.test(text.trim()) ? Number(text) : null;
}

/**
 * `error` as a cause that is safe to keep: fetch errors quote the URL, and a URL may carry
 * user info or a signed query string, so both are cut from every URL in the message.
 */
function scrubbed(error: unknown): Error {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new Error(
    text.replace(
      /\b([a-z][a-z0-9+.-]*:\/\/)(?:[^\s/?#@)]*@)?([^\s?#)]*)(?:[?#][^\s)]*)?/gi,
      "$1$2",
    ),
  );
}

function toLatin1(text: string): string {
  return String.fromCharCode(...new TextEncoder().encode(text));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
