/**
 * fetch with retries on 429 / 503 (honouring Retry-After) and problem+json errors.
 * @module
 */

import { problemError, SaeServeError } from "./errors.ts";

/** Statuses retried with backoff. */
export const RETRY_STATUSES: readonly number[] = [429, 503];

/** How requests are sent and retried. */
export interface TransportOptions {
  /** Per-attempt timeout in milliseconds (default 30000). */
  timeoutMs?: number;
  /** Retries of a 429 / 503 before giving up (default 5). */
  maxRetries?: number;
  /** First backoff in milliseconds without Retry-After, doubled per attempt (default 250). */
  backoffMs?: number;
  /**
   * Longest wait before a retry in milliseconds (default 10000): the computed backoff is cut to
   * it, and a 503 whose Retry-After asks for longer is raised at once instead of waited for (a
   * service that names minutes, such as for a dictionary whose files cannot be read, is not
   * going to answer differently in the meantime). A 429's Retry-After is always waited out.
   */
  maxBackoffMs?: number;
  /** The fetch to use (default globalThis.fetch; `http1Fetch()` from http1.ts for Deno / Node). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

/** Milliseconds a Retry-After value asks to wait (seconds or an HTTP date); undefined if none. */
export function retryAfterMs(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value.trim());
  if (value.trim() !== "" && Number.isFinite(seconds)) {
    return Math.max(0, seconds * 1000);
  }
  const when = Date.parse(value);
  return Number.isNaN(when) ? undefined : Math.max(0, when - now);
}

/**
 * Send `init` to `url`, retrying 429 / 503 (not a problem marked `"retryable": false`); the 2xx
 * response, or a SaeServeError.
 */
export async function send(
  url: string,
  init: RequestInit,
  options: TransportOptions = {},
): Promise<Response> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const maxRetries = options.maxRetries ?? 5;
  const backoff = options.backoffMs ?? 250;
  for (let attempt = 0;; attempt++) {
    let res: Response;
    try {
      res = await doFetch(url, {
        ...init,
        signal: AbortSignal.timeout(options.timeoutMs ?? 30000),
      });
    } catch (e) {
      throw new SaeServeError(0, "connection failed", { detail: String(e) });
    }
    if (res.ok) return res;
    const maxWait = options.maxBackoffMs ?? 10000;
    const asked = retryAfterMs(res.headers.get("retry-after"));
    // A 503 naming a long wait will not answer differently meanwhile; a 429's Retry-After (a
    // rate limit's rest of the minute) is waited out.
    const retried = RETRY_STATUSES.includes(res.status) && attempt < maxRetries &&
      (asked === undefined || asked <= maxWait || res.status === 429);
    if (!retried) throw await problemError(res);
    // A problem marked "retryable": false (a request past its deadline) would fail again.
    const problem = await problemError(res);
    if (problem.body?.retryable === false) throw problem;
    const wait = asked ?? Math.min(maxWait, backoff * 2 ** attempt) * (0.5 + Math.random() / 2);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
