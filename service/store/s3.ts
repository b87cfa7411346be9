/**
 * The S3 store (`s3://BUCKET/PREFIX`), for AWS and S3-compatible servers (MinIO, R2, s3rver):
 * ListObjects listings, HEAD for sizes, SigV4-signed ranged GETs and PUTs. Credentials come
 * from the usual AWS_* variables and are never shown in `describe` or in errors.
 * @module
 */

import type { ByteSource } from "../../domain/io/byte_source.ts";
import { SaeError } from "../../domain/errors.ts";
import { fetchWithRetry, responseError, type RetryOptions } from "./http_fetch.ts";
import { rangedSource } from "./ranged_source.ts";
import type { Store, StoreEntry } from "./store.ts";
import { encodePath, isObjectPath, objectPath } from "./object_path.ts";
import { encodeRfc3986, sha256Hex, type SigningCredentials, signRequest } from "./sigv4.ts";

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** Options for {@link s3Store}. */
export interface S3StoreOptions extends RetryOptions {
  /** The fetch to use; default the global one. */
  readonly fetch?: typeof fetch;
  /** Keys per ListObjects page (the server's default, 1000, when absent). */
  readonly maxKeys?: number;
}

/**
 * A store over `s3://BUCKET/PREFIX`. From `env`: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN (requests go unsigned without a key pair), AWS_REGION (or
 * AWS_DEFAULT_REGION; default us-east-1), and AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL for a
 * custom endpoint, addressed path-style; AWS itself is addressed virtual-hosted style.
 */
export function s3Store(
  url: URL,
  env: Record<string, string | undefined>,
  options: S3StoreOptions = {},
): Store {
  const bucket = url.hostname;
  if (
    url.protocol !== "s3:" || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(bucket) ||
    url.username || url.password || url.port || url.search || url.hash
  ) {
    throw new SaeError(
      "invalid",
      "an S3 store address looks like s3://BUCKET/PREFIX (credentials go in AWS_* variables)",
    );
  }
  const root = objectPath(decodeOrInvalid(url.pathname), { allowEmpty: true, refuseAs: "invalid" });
  const describe = `s3://${bucket}${root ? `/${root}` : ""}`;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1";
  if (!/^[a-z0-9-]{1,64}$/.test(region)) {
    throw new SaeError("invalid", "AWS_REGION is not a region name");
  }
  const addressing = bucketAddress(bucket, {
    region,
    endpoint: env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL,
  });
  const credentials: SigningCredentials | null = env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
    ? {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      sessionToken: env.AWS_SESSION_TOKEN || undefined,
      region,
      service: "s3",
    }
    : null;
  const send = options.fetch ?? fetch;

  const request = async (
    method: string,
    target: URL,
    init: RequestParts,
  ): Promise<Response> => {
    let headers = new Headers(init.headers);
    if (credentials) {
      const payloadHash = init.payloadHash ?? EMPTY_SHA256;
      headers = await signRequest({ method, url: target, headers, payloadHash }, credentials);
    }
    const body = init.body as BodyInit | undefined;
    return await send(target, { method, headers, body, signal: init.signal });
  };
  const keyOf = (relative: string): string => (root ? `${root}/${relative}` : relative);
  const objectUrl = (relative: string): URL =>
    new URL(addressing.objects + encodePath(keyOf(relative)));

  const listPage = async (
    folder: string,
    page: { marker?: string; maxKeys?: number },
  ): Promise<Listing> => {
    const keyPrefix = folder === "" ? (root ? `${root}/` : "") : `${keyOf(folder)}/`;
    const params: Array<[string, string]> = [["prefix", keyPrefix]];
    if (page.maxKeys) params.push(["max-keys", String(page.maxKeys)]);
    if (page.marker !== undefined) params.push(["marker", page.marker]);
    const query = params.map(([k, v]) => `${encodeRfc3986(k)}=${encodeRfc3986(v)}`).join("&");
    const label = `${describe}${folder ? `/${folder}` : ""} (listing)`;
    const response = await fetchWithRetry(
      (signal) => request("GET", new URL(`${addressing.bucket}?${query}`), { signal }),
      { ...options, label },
    );
    if (!response.ok) {
      const error = await s3Error(response, label);
      throw error.kind === "not_found"
        ? new SaeError("unavailable", `${describe}: bucket not found`)
        : error;
    }
    let xml: string;
    try {
      xml = await response.text();
    } catch (error) {
      throw new SaeError("unavailable", `${label}: the connection broke`, { cause: error });
    }
    return parseListing(xml, { label, after: page.marker });
  };

  return {
    describe,

    async list(prefix: string): Promise<StoreEntry[]> {
      const folder = objectPath(prefix, { allowEmpty: true });
      const strip = root ? `${root}/` : "";
      const entries: StoreEntry[] = [];
      let marker: string | undefined;
      do {
        const page = await listPage(folder, { marker, maxKeys: options.maxKeys });
        for (const { key, size } of page.objects) {
          if (!key.startsWith(strip)) continue;
          const path = key.slice(strip.length);
          if (isObjectPath(path)) entries.push({ path, size });
        }
        marker = page.nextMarker;
      } while (marker !== undefined);
      return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },

    async open(path: string): Promise<ByteSource> {
      const relative = objectPath(path);
      const label = `${describe}/${relative}`;
      const target = objectUrl(relative);
      const head = await fetchWithRetry(
        (signal) => request("HEAD", target, { signal }),
        { ...options, label },
      );
      if (!head.ok) throw await s3Error(head, label);
      await head.body?.cancel();
      const length = head.headers.get("content-length");
      if (length === null || !/^\d+$/.test(length)) {
        throw new SaeError("unavailable", `${label}: the store gave no size`);
      }
      return rangedSource(
        Number(length),
        (range, signal) => request("GET", target, { headers: { range }, signal }),
        { ...options, label },
      );
    },

    async ping(): Promise<void> {
      await listPage("", { maxKeys: 1 });
    },

    async put(path: string, body: Uint8Array): Promise<void> {
      const relative = objectPath(path, { refuseAs: "invalid" });
      const label = `${describe}/${relative}`;
      const payloadHash = sha256Hex(body);
      const target = objectUrl(relative);
      const headers = { "content-type": "application/octet-stream" };
      // The answer comes only after the upload: allow for it at 1 MB/s or better.
      const timeoutMs = options.timeoutMs ?? 30_000 + body.byteLength / 1000;
      const response = await fetchWithRetry(
        (signal) => request("PUT", target, { headers, body, payloadHash, signal }),
        { ...options, label, timeoutMs },
      );
      if (!response.ok) throw await s3Error(response, label);
      await response.body?.cancel();
    },
  };
}

/** What one attempt of a request carries besides its method and URL. */
interface RequestParts {
  readonly signal: AbortSignal;
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array;
  /** Hex SHA-256 of `body`; the empty body's when absent. */
  readonly payloadHash?: string;
}

/** One page of a ListObjects answer. */
interface Listing {
  readonly objects: Array<{ key: string; size: number }>;
  /** Where the next page starts (the last key seen); absent on the last page. */
  readonly nextMarker?: string;
}

/**
 * Parse a ListObjects (version 1) XML body: keys (entity-decoded), sizes, and where the next
 * page starts. Version 1 pages by key (`marker`), which every S3-compatible server supports;
 * a truncated page must move past `after`, or the listing could loop forever.
 */
function parseListing(xml: string, options: { label: string; after?: string }): Listing {
  const { label, after } = options;
  if (!/<ListBucketResult[\s>]/.test(xml)) {
    throw new SaeError("unavailable", `${label}: the store answered something not a listing`);
  }
  const objects: Array<{ key: string; size: number }> = [];
  for (const match of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const key = element(match[1], "Key");
    const size = Number(element(match[1], "Size"));
    if (key === null || !Number.isSafeInteger(size) || size < 0) {
      throw new SaeError("unavailable", `${label}: malformed listing entry`);
    }
    objects.push({ key, size });
  }
  if (element(xml, "IsTruncated") !== "true") return { objects };
  const nextMarker = element(xml, "NextMarker") || objects.at(-1)?.key;
  if (!nextMarker || (after !== undefined && !utf8After(nextMarker, after))) {
    throw new SaeError("unavailable", `${label}: a truncated listing that does not advance`);
  }
  return { objects, nextMarker };
}

/** Whether `a` sorts after `b` in S3's key order (UTF-8 bytes, not UTF-16 code units). */
function utf8After(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] > y[i];
  }
  return x.length > y.length;
}

/** The decoded text of the first `<name>` element in `xml`, or null. */
function element(xml: string, name: string): string | null {
  const match = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  if (!match) return xml.includes(`<${name}/>`) ? "" : null;
  return match[1]
    .split(/(<!\[CDATA\[[\s\S]*?\]\]>)/)
    .map((part) => part.startsWith("<![CDATA[") ? part.slice(9, -3) : decodeEntities(part))
    .join("");
}

function decodeEntities(text: string): string {
  const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
  return text.replace(/&(#[xX][0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (whole, ref: string) => {
    if (ref[0] !== "#") return named[ref];
    const code = ref[1] === "x" || ref[1] === "X"
      ? parseInt(ref.slice(2), 16)
      : parseInt(ref.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** The error for a failed S3 answer, naming S3's error code (never a secret) when given. */
async function s3Error(response: Response, label: string): Promise<SaeError> {
  let detail: string | undefined;
  if (response.body && response.status !== 404) {
    const text = await response.text().catch(() => "");
    const code = /<Code>([A-Za-z0-9.]{1,64})<\/Code>/.exec(text)?.[1];
    detail = code;
  }
  return await responseError(response, label, { detail });
}

interface Addressing {
  /** URL for bucket-level requests (listing), without a query. */
  readonly bucket: string;
  /** URL prefix to which an encoded key is appended. */
  readonly objects: string;
}

function bucketAddress(bucket: string, options: { region: string; endpoint?: string }): Addressing {
  const name = encodeRfc3986(bucket);
  if (options.endpoint) {
    let endpoint: URL;
    try {
      endpoint = new URL(options.endpoint);
    } catch {
      throw new SaeError("invalid", "AWS_ENDPOINT_URL(_S3) is not a URL");
    }
    const base = `${endpoint.origin}${endpoint.pathname.replace(/\/+$/, "")}/${name}`;
    return { bucket: base, objects: `${base}/` };
  }
  if (bucket.includes(".")) {
    // Dotted names break the TLS wildcard of virtual-hosted addressing: go path-style.
    const base = `https://s3.${options.region}.amazonaws.com/${name}`;
    return { bucket: base, objects: `${base}/` };
  }
  const base = `https://${bucket}.s3.${options.region}.amazonaws.com/`;
  return { bucket: base, objects: base };
}

function decodeOrInvalid(pathname: string): string {
  try {
    return decodeURIComponent(pathname.replace(/^\//, ""));
  } catch {
    throw new SaeError("invalid", "the S3 prefix is not valid percent-encoding");
  }
}
