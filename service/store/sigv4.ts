/**
 * AWS Signature Version 4 request signing (header form), with `crypto.subtle` for HMAC-SHA256
 * and node:crypto for SHA-256. S3 rules apply when the service is "s3": the path is encoded
 * once rather than twice, and `x-amz-content-sha256` is sent and signed.
 * @module
 */

import { createHash } from "node:crypto";

const ALGORITHM = "AWS4-HMAC-SHA256";
const encoder = new TextEncoder();

/** The parts of an HTTP request that a SigV4 signature covers. */
export interface SignableRequest {
  /** HTTP method, e.g. "GET". */
  readonly method: string;
  /** Full URL; its host, path and query are signed. Build paths already percent-encoded. */
  readonly url: URL;
  /** Headers to send; every one of them is signed (an Authorization header is dropped). */
  readonly headers: Headers;
  /** Lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD". */
  readonly payloadHash: string;
}

/** Who signs, and for which region and service. */
export interface SigningCredentials {
  /** The access key id, e.g. "AKIAIOSFODNN7EXAMPLE". */
  readonly accessKeyId: string;
  /** The secret key; only ever used as HMAC key material. */
  readonly secretAccessKey: string;
  /** A session token from temporary credentials, sent as `x-amz-security-token`. */
  readonly sessionToken?: string;
  /** Region, e.g. "us-east-1". */
  readonly region: string;
  /** Service, e.g. "s3". */
  readonly service: string;
}

/** Options for {@link signRequest}. */
export interface SignOptions {
  /** The signing time; defaults to now. */
  readonly date?: Date;
}

/** The steps of one SigV4 signature, named as in AWS's test suite (.creq, .sts, .authz). */
export interface SignatureParts {
  /** The canonical request (.creq). */
  readonly canonicalRequest: string;
  /** The string to sign (.sts). */
  readonly stringToSign: string;
  /** The Authorization header value (.authz). */
  readonly authorization: string;
  /** The headers to send: the request's own plus x-amz-* and authorization, without host. */
  readonly headers: Headers;
}

/**
 * Sign `request`, returning the headers to send with it: the request's own headers plus
 * `x-amz-date`, `x-amz-content-sha256` (S3), `x-amz-security-token` (with a session token)
 * and `authorization`. `host` is signed but not returned: fetch sets it from the URL.
 */
export async function signRequest(
  request: SignableRequest,
  credentials: SigningCredentials,
  options: SignOptions = {},
): Promise<Headers> {
  return (await signatureParts(request, credentials, options)).headers;
}

/** Sign `request` as {@link signRequest} does, returning every intermediate step too. */
export async function signatureParts(
  request: SignableRequest,
  credentials: SigningCredentials,
  options: SignOptions = {},
): Promise<SignatureParts> {
  const amzDate = (options.date ?? new Date()).toISOString().replace(/[-:]|\.\d{3}/g, "");
  const day = amzDate.slice(0, 8);
  const isS3 = credentials.service === "s3";

  const headers = new Headers(request.headers);
  headers.delete("authorization");
  headers.delete("host");
  headers.set("x-amz-date", amzDate);
  if (isS3) headers.set("x-amz-content-sha256", request.payloadHash);
  if (credentials.sessionToken) headers.set("x-amz-security-token", credentials.sessionToken);

  const signed = new Map<string, string>([["host", request.url.host]]);
  for (const [name, value] of headers) signed.set(name, value.trim().replace(/\s+/g, " "));
  const names = [...signed.keys()].sort();
  const signedHeaders = names.join(";");

  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalPath(request.url, isS3),
    canonicalQuery(request.url),
    names.map((name) => `${name}:${signed.get(name)}\n`).join(""),
    signedHeaders,
    request.payloadHash,
  ].join("\n");
  const scope = `${day}/${credentials.region}/${credentials.service}/aws4_request`;
  const stringToSign = [
    ALGORITHM,
    amzDate,
    scope,
    sha256Hex(encoder.encode(canonicalRequest)),
  ]
    .join("\n");

  let key: ArrayBuffer = encoder.encode(`AWS4${credentials.secretAccessKey}`).buffer;
  for (const part of [day, credentials.region, credentials.service, "aws4_request"]) {
    key = await hmac(key, part);
  }
  const signature = hex(await hmac(key, stringToSign));
  const authorization = `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, ` +
    `SignedHeaders=${signedHeaders}, Signature=${signature}`;
  headers.set("authorization", authorization);
  return { canonicalRequest, stringToSign, authorization, headers };
}

/** Lowercase hex SHA-256 of `body`: the payload hash of a signed request with a body. */
export function sha256Hex(body: Uint8Array): string {
  return createHash("sha256").update(body).digest("hex");
}

/**
 * Percent-encode per RFC 3986 as SigV4 requires: everything but `A-Z a-z 0-9 - . _ ~` is
 * escaped as UTF-8 bytes. Build request paths and queries with this so that what is sent is
 * exactly what is signed.
 */
export function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function canonicalPath(url: URL, isS3: boolean): string {
  const segments = url.pathname.split("/");
  if (isS3) return segments.map((s) => encodeRfc3986(decodeLoosely(s))).join("/") || "/";
  // Other services: normalise dot segments, then encode the (already encoded) path again.
  const out: string[] = [];
  for (const segment of segments.slice(1)) {
    if (segment === ".") continue;
    if (segment === "..") out.pop();
    else out.push(segment);
  }
  return "/" + out.map(encodeRfc3986).join("/");
}

function canonicalQuery(url: URL): string {
  const raw = url.search.replace(/^\?/, "");
  if (raw === "") return "";
  const pairs: Array<[string, string]> = [];
  for (const part of raw.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? "" : part.slice(eq + 1);
    pairs.push([
      encodeRfc3986(decodeLoosely(key.replace(/\+/g, " "))),
      encodeRfc3986(decodeLoosely(value.replace(/\+/g, " "))),
    ]);
  }
  pairs.sort(([ka, va], [kb, vb]) => ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0);
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

function decodeLoosely(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

async function hmac(key: ArrayBuffer, message: string): Promise<ArrayBuffer> {
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    key,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return await crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(message));
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}
