/**
 * Requests as the HTTP-based stores (https, S3, Hugging Face) send them: retried with backoff
 * while no byte has arrived, each attempt timed out, and non-2xx answers mapped to SaeErrors
 * whose messages never carry credentials or signed URLs.
 * @module
 */

import { SaeError } from "../../domain/errors.ts";

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

/**
 * `error` as a cause that is safe to keep: fetch errors quote the URL, and a URL may carry
 * user info or a signed query string, so both are cut from every URL in the message.
 */
export function scrubbed(error: unknown): Error {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new Error(
    text.replace(
      /\b([a-z][a-z0-9+.-]*:\/\/)(?:[^\s/?#@)]*@)?([^\s?#)]*)(?:[?#][^\s)]*)?/gi,
      "$1$2",
    ),
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
