/**
 * How the registry's loads fail: which failures back off and how long ("broken" files versus
 * "transient" store trouble), `retry_after` on a remembered 503, and a broken file reported
 * as the server's problem.
 * @module
 */

import { FormatError, SaeError } from "../../domain/errors.ts";
import type { Backoff, FailureKind } from "../lease_cache.ts";

/** Backoff of broken files (format, integrity, over the budget) unless configured. */
export const BROKEN_BACKOFF: Backoff = { firstMs: 1_000, maxMs: 300_000 };
/** Backoff of store and backend errors (503 "unavailable") unless configured. */
export const TRANSIENT_BACKOFF: Backoff = { firstMs: 250, maxMs: 30_000 };

/** A dictionary larger than the whole memory budget: it stays so until its files change. */
export class OverBudgetError extends SaeError {}

/**
 * How a failed load backs off: "broken" files (format and integrity errors, anything
 * unexpected, a dictionary over the budget), "transient" store or backend errors, or null
 * (not remembered: a missing dictionary or file).
 */
export function failureKind(error: unknown): FailureKind | null {
  if (!(error instanceof SaeError)) return "broken";
  if (error.kind === "not_found") return null;
  const transient = error.kind === "unavailable" && !(error instanceof OverBudgetError) &&
    !(error.cause instanceof FormatError);
  return transient ? "transient" : "broken";
}

/**
 * `error` again, with `retry_after` (whole seconds) when it is a 503, and `retryable: false`
 * when the failure is of kind "broken" (files that cannot be read or fail their checks, a
 * dictionary over the memory budget): sending the request again fails the same way until the
 * files change, so clients raise at once instead of retrying through the first backoffs.
 */
export function withRetryAfter(
  error: unknown,
  failure: { delayMs: number; kind: FailureKind },
): unknown {
  if (
    !(error instanceof SaeError) || (error.kind !== "unavailable" && error.kind !== "integrity")
  ) {
    return error;
  }
  const { delayMs } = failure;
  const broken = failure.kind === "broken";
  return new SaeError(error.kind, error.message, {
    cause: error,
    info: {
      ...error.info,
      retry_after: Math.max(1, Math.ceil(delayMs / 1000)),
      ...(broken ? { retryable: false } : {}),
    },
  });
}

/** A broken file in the store is the server's problem, never a client's bad request. */
export function unreadable(what: string, e: unknown): unknown {
  return e instanceof FormatError
    ? new SaeError("unavailable", `${what} cannot be read: ${e.message}`, { cause: e })
    : e;
}
