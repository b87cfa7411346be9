/**
 * HTTP(S) objects read with ranged GETs, and the read-only `https://` store built on them.
 * The pieces they share with the S3 and Hugging Face stores (retrying requests and status
 * mapping in http_fetch.ts, ranged ByteSources in ranged_source.ts) live beside this module.
 * @module
 */

import type { ByteSource } from "../../domain/io/byte_source.ts";
import { SaeError } from "../../domain/errors.ts";
import type { Store, StoreEntry } from "./store.ts";
import { encodePath, isObjectPath, objectPath } from "./object_path.ts";
import {
  type FetchRetryOptions,
  fetchWithRetry,
  responseError,
  type RetryOptions,
  type Sender,
} from "./http_fetch.ts";
import { contentRange, declaredLength, rangedSource } from "./ranged_source.ts";

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
        // An entry without a usable size is asked for its size, as a bare path is.
        if (typeof item !== "string" && Number.isSafeInteger(item.size) && item.size >= 0) {
          entries.push({ path, size: item.size });
        } else unsized.push(path);
      }
      for (let i = 0; i < unsized.length; i += 8) {
        const batch = unsized.slice(i, i + 8);
        // A stale line (the file is gone) drops that file only, as if the index did not name
        // it: its folder then answers for itself, and every other dictionary is still listed.
        const sources = await Promise.all(
          batch.map((p) =>
            httpObject(at(p), objectOptions(p)).catch((e) => {
              if (e instanceof SaeError && e.kind === "not_found") return null;
              throw e;
            })
          ),
        );
        batch.forEach((path, j) => {
          const source = sources[j];
          if (source) entries.push({ path, size: source.size });
        });
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

function toLatin1(text: string): string {
  return String.fromCharCode(...new TextEncoder().encode(text));
}
