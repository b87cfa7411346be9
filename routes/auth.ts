/**
 * API keys and per-key rate limits for /v1 routes: `Authorization: Bearer <key>` checked in
 * constant time against SHA-256 digests of the configured keys (401 without a key, 403 with a
 * wrong one; keys never logged), and an optional requests-per-minute limit per key with the
 * IETF RateLimit headers (429 with Retry-After beyond it).
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import { problemResponse } from "./problem.ts";

/** Auth settings. */
export interface AuthOptions {
  /** Accepted keys (plain text, as configured). */
  readonly keys: readonly string[];
  /** Requests per minute per key; 0 or absent: no limit. */
  readonly ratePerMinute?: number;
}

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
export async function apiKeyAuth(options: AuthOptions): Promise<MiddlewareHandler> {
  const digests = await Promise.all(options.keys.map(digest));
  const windows = new Map<number, { start: number; count: number }>();
  const limit = options.ratePerMinute ?? 0;
  return async (c: Context, next) => {
    const header = c.req.header("authorization") ?? "";
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) {
      c.header("WWW-Authenticate", 'Bearer realm="saeserve"');
      return problemResponse(c, 401, "this route needs Authorization: Bearer <key>");
    }
    const presented = await digest(m[1]);
    let match = -1;
    for (let i = 0; i < digests.length; i++) {
      if (constantTimeEqual(presented, digests[i]) && match < 0) match = i;
    }
    if (match < 0) return problemResponse(c, 403, "the key is not valid");
    c.set("keyId" as never, match as never);
    if (limit > 0) {
      const now = Date.now();
      let w = windows.get(match);
      if (!w || now - w.start >= 60_000) windows.set(match, w = { start: now, count: 0 });
      const reset = Math.ceil((w.start + 60_000 - now) / 1000);
      c.header("RateLimit-Policy", `"per-key";q=${limit};w=60`);
      if (w.count >= limit) {
        c.header("RateLimit", `"per-key";r=0;t=${reset}`);
        c.header("RateLimit-Limit", String(limit));
        c.header("RateLimit-Remaining", "0");
        c.header("RateLimit-Reset", String(reset));
        return problemResponse(c, 429, `rate limit of ${limit} requests per minute reached`, {
          retry_after: reset,
        });
      }
      w.count++;
      c.header("RateLimit", `"per-key";r=${limit - w.count};t=${reset}`);
      c.header("RateLimit-Limit", String(limit));
      c.header("RateLimit-Remaining", String(limit - w.count));
      c.header("RateLimit-Reset", String(reset));
    }
    await next();
  };
}
