/**
 * RFC 9457 problem details: every 4xx/5xx answer is application/problem+json with type, title,
 * status and detail. Maps domain error kinds to statuses. Details (and string extras) are cut
 * to {@link DETAIL_MAX_CHARS} characters, so an error never echoes a request's content at length.
 * @module
 */

import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ErrorKind, SaeError } from "../domain/errors.ts";

/** HTTP status for each domain error kind (api.md "Errors"). */
export const STATUS_OF: Record<ErrorKind, ContentfulStatusCode> = {
  malformed: 400,
  not_found: 404,
  too_large: 413,
  unsupported_media: 415,
  invalid: 422,
  over_capacity: 429,
  unavailable: 503,
  integrity: 503,
};

const TITLES: Record<number, string> = {
  400: "Malformed request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not found",
  405: "Method not allowed",
  413: "Payload too large",
  415: "Unsupported media type",
  422: "Unprocessable content",
  429: "Too many requests",
  500: "Internal server error",
  503: "Service unavailable",
};

/** A problem+json body. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly [extra: string]: unknown;
}

/** Longest `detail` (and string extra) a problem carries, in UTF-16 code units. */
export const DETAIL_MAX_CHARS = 300;

/**
 * `text` cut to `maxChars` (default {@link DETAIL_MAX_CHARS}) with an ellipsis and the original
 * length, e.g. `Unrecognized key: "aaaa… (28000000 characters)`; shorter text is returned as is.
 * Never splits a surrogate pair.
 */
export function truncateDetail(text: string, options?: { maxChars?: number }): string {
  const max = options?.maxChars ?? DETAIL_MAX_CHARS;
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // a high surrogate whose pair would be cut off
  return `${text.slice(0, end)}\u2026 (${text.length} characters)`;
}

/** The problem document for `answer.status` with a client-safe `detail`. */
export function problem(answer: ProblemAnswer): Problem {
  const { status, detail, extra } = answer;
  const title = TITLES[status] ?? "Error";
  const slug = title.toLowerCase().replace(/[^a-z]+/g, "-");
  const extras: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(extra ?? {})) {
    extras[truncateDetail(key, { maxChars: 64 })] = typeof value === "string"
      ? truncateDetail(value)
      : value;
  }
  return {
    type: `https://saeserve.dev/problems/${slug}`,
    title,
    status,
    detail: truncateDetail(detail),
    ...extras,
  };
}

/** What {@link problemResponse} answers. */
export interface ProblemAnswer {
  readonly status: ContentfulStatusCode;
  readonly detail: string;
  /** Extension members of the document (e.g. `retry_after`). */
  readonly extra?: Record<string, unknown>;
}

/** Respond with a problem+json body; a numeric `retry_after` extra also becomes Retry-After. */
export function problemResponse(c: Context, answer: ProblemAnswer): Response {
  const { status, extra } = answer;
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  const retryAfter = extra?.retry_after;
  if (typeof retryAfter === "number") headers["retry-after"] = String(retryAfter);
  else if (status === 429) headers["retry-after"] = "1";
  return c.body(JSON.stringify(problem(answer)), status, headers);
}

/** Map any thrown value to a problem response; unexpected errors become a 500 without internals. */
export function errorResponse(c: Context, error: unknown): Response {
  if (error instanceof SaeError) {
    return problemResponse(c, {
      status: STATUS_OF[error.kind],
      detail: error.message,
      extra: error.info,
    });
  }
  console.error("unexpected error", error);
  return problemResponse(c, {
    status: 500,
    detail: "An unexpected error occurred; it has been logged.",
  });
}
