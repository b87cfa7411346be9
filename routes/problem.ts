/**
 * RFC 9457 problem details: every 4xx/5xx answer is application/problem+json with type, title,
 * status and detail. Maps domain error kinds to statuses.
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

/** The problem document for `status` with a client-safe `detail`. */
export function problem(status: number, detail: string, extra?: Record<string, unknown>): Problem {
  const title = TITLES[status] ?? "Error";
  const slug = title.toLowerCase().replace(/[^a-z]+/g, "-");
  return { type: `https://saeserve.dev/problems/${slug}`, title, status, detail, ...extra };
}

/** Respond with a problem+json body. */
export function problemResponse(
  c: Context,
  status: ContentfulStatusCode,
  detail: string,
  extra?: Record<string, unknown>,
): Response {
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  if (status === 429) headers["retry-after"] = String(extra?.retry_after ?? 1);
  return c.body(JSON.stringify(problem(status, detail, extra)), status, headers);
}

/** Map any thrown value to a problem response; unexpected errors become a 500 without internals. */
export function errorResponse(c: Context, error: unknown): Response {
  if (error instanceof SaeError) {
    return problemResponse(c, STATUS_OF[error.kind], error.message, error.info);
  }
  console.error("unexpected error", error);
  return problemResponse(c, 500, "An unexpected error occurred; it has been logged.");
}
