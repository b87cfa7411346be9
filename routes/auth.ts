/**
 * API keys and per-key rate limits for /v1 routes: `Authorization: Bearer <key>` checked in
 * constant time against SHA-256 digests of the configured keys (401 without a key, 403 with a
 * wrong one; keys never logged), and an optional requests-per-minute limit per key with the
 * IETF RateLimit headers (429 with Retry-After beyond it).
 *
 * Failed attempts (401 and 403) are counted per client address (see `auth_failures.ts`); past
 * `failuresPerMinute` the address gets 429 with Retry-After for every request until its minute
 * is over, a correct key included: were a correct key let through, the difference between its
 * 200 and a wrong key's 429 would keep answering the guesser, and the limit would limit nothing.
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";
import { clientBucket, FailureWindows } from "./auth_failures.ts";
import { problemResponse } from "./problem.ts";

/** Failed attempts per client address per minute before 429, unless configured. */
export const DEFAULT_AUTH_FAILURES_PER_MINUTE = 20;

/** Auth settings. */
export interface AuthOptions {
  /** Accepted keys (plain text, as configured). */
  readonly keys: readonly string[];
  /** Requests per minute per key; 0 or absent: no limit. */
  readonly ratePerMinute?: number;
  /**
   * Failed attempts (401 / 403) per client address per minute before every request from it
   * gets 429; absent: {@link DEFAULT_AUTH_FAILURES_PER_MINUTE}; 0: no limit.
   */
  readonly failuresPerMinute?: number;
  /** Clock in ms (tests); default Date.now. */
  readonly now?: () => number;
}

/** What a request's credentials amount to. */
type Verdict =
  | { readonly kind: "ok"; readonly keyId: number }
  | { readonly kind: "missing" }
  | { readonly kind: "wrong" }
  | { readonly kind: "locked"; readonly retryAfter: number };

/** Each middleware's own credential check, for {@link holdsValidKey}. */
const checks = new WeakMap<MiddlewareHandler<AppEnv>, (c: Context) => Promise<Verdict>>();

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Equal-length byte comparison whose time does not depend on where the bytes differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** The middleware; `c.get("keyId")` is the matching key's index (for logs, never the key). */
export async function apiKeyAuth(options: AuthOptions): Promise<MiddlewareHandler<AppEnv>> {
  const digests = await Promise.all(options.keys.map(digest));
  const windows = new Map<number, { start: number; count: number }>();
  const limit = options.ratePerMinute ?? 0;
  const now = options.now ?? Date.now;
  const failures = new FailureWindows(
    options.failuresPerMinute ?? DEFAULT_AUTH_FAILURES_PER_MINUTE,
    { now },
  );
  const check = async (c: Context, countMissing: boolean): Promise<Verdict> => {
    const bucket = clientBucket(c);
    const retryAfter = failures.lockedFor(bucket);
    if (retryAfter > 0) return { kind: "locked", retryAfter };
    const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "");
    if (!m) {
      if (countMissing) failures.record(bucket);
      return { kind: "missing" };
    }
    const presented = await digest(m[1]);
    let match = -1;
    for (let i = 0; i < digests.length; i++) {
      if (constantTimeEqual(presented, digests[i]) && match < 0) match = i;
    }
    if (match < 0) {
      failures.record(bucket);
      return { kind: "wrong" };
    }
    return { kind: "ok", keyId: match };
  };
  const middleware: MiddlewareHandler<AppEnv> = async (c, next) => {
    const verdict = await check(c, true);
    if (verdict.kind === "locked") {
      return problemResponse(c, {
        status: 429,
        detail: "too many failed authentication attempts from this address",
        extra: { retry_after: verdict.retryAfter },
      });
    }
    if (verdict.kind === "missing") {
      c.header("WWW-Authenticate", 'Bearer realm="saeserve"');
      return problemResponse(c, {
        status: 401,
        detail: "this route needs Authorization: Bearer <key>",
      });
    }
    if (verdict.kind === "wrong") {
      return problemResponse(c, { status: 403, detail: "the key is not valid" });
    }
    const match = verdict.keyId;
    c.set("keyId", match);
    if (limit > 0) {
      const at = now();
      let w = windows.get(match);
      if (!w || at - w.start >= 60_000) windows.set(match, w = { start: at, count: 0 });
      const reset = Math.ceil((w.start + 60_000 - at) / 1000);
      c.header("RateLimit-Policy", `"per-key";q=${limit};w=60`);
      if (w.count >= limit) {
        c.header("RateLimit", `"per-key";r=0;t=${reset}`);
        c.header("RateLimit-Limit", String(limit));
        c.header("RateLimit-Remaining", "0");
        c.header("RateLimit-Reset", String(reset));
        return problemResponse(c, {
          status: 429,
          detail: `rate limit of ${limit} requests per minute reached`,
          extra: { retry_after: reset },
        });
      }
      w.count++;
      c.header("RateLimit", `"per-key";r=${limit - w.count};t=${reset}`);
      c.header("RateLimit-Limit", String(limit));
      c.header("RateLimit-Remaining", String(limit - w.count));
      c.header("RateLimit-Reset", String(reset));
    }
    await next();
    return undefined;
  };
  checks.set(middleware, (c) => check(c, false));
  return middleware;
}

/**
 * Whether the request carries a key `auth` (an {@link apiKeyAuth} middleware) accepts, for
 * routes that stay open but show more to key holders (`/readyz`). A wrong key counts as a
 * failed attempt of the client's address, as on /v1 (so this is no unlimited guessing
 * oracle); no key at all is not counted; a locked-out address holds no valid key. False when
 * `auth` is absent (an open service) or not made by {@link apiKeyAuth}.
 */
export async function holdsValidKey(
  auth: MiddlewareHandler<AppEnv> | undefined,
  c: Context,
): Promise<boolean> {
  const check = auth && checks.get(auth);
  return check ? (await check(c)).kind === "ok" : false;
}
