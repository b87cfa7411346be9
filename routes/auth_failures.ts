/**
 * Failed authentication attempts counted per client address: the connection's remote address
 * (IPv6 grouped by its /64, since one host usually holds a whole /64), in a one-minute window
 * from the first failure. Past the limit the address is locked out until the window ends.
 * Requests without a connection (in-process `app.request` in tests) share one bucket.
 * @module
 */

import type { Context } from "hono";

/** The bucket of requests that carry no connection information. */
export const UNKNOWN_CLIENT = "unknown";

/** Length of a failure window, in ms. */
export const FAILURE_WINDOW_MS = 60_000;

/** Most addresses tracked at once; beyond it expired windows go first, then the oldest. */
const MAX_TRACKED = 10_000;

/** Full 8 x 16-bit groups of an IPv6 address, or null when `text` is not one. */
function ipv6Groups(text: string): number[] | null {
  let address = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "").toLowerCase();
  const v4 = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (v4) {
    const b = v4.slice(2).map(Number);
    if (b.some((n) => n > 255)) return null;
    address = `${v4[1]}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === "") return [];
    const groups = part.split(":").map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN));
    return groups.some(Number.isNaN) ? null : groups;
  };
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  return [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
}

/**
 * The bucket a remote address counts in: an IPv4 address as is (IPv4-mapped IPv6 included),
 * an IPv6 address as its /64 prefix (`2001:db8:0:1::/64`), anything else as given.
 */
export function addressBucket(hostname: string): string {
  const groups = ipv6Groups(hostname);
  if (!groups) return hostname;
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) {
    return [groups[6] >> 8, groups[6] & 255, groups[7] >> 8, groups[7] & 255].join(".");
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

/**
 * The client bucket of a request: from the connection Deno.serve hands Hono as `c.env`
 * (`remoteAddr`), or {@link UNKNOWN_CLIENT} when there is none.
 */
export function clientBucket(c: Context): string {
  const env = c.env as { remoteAddr?: { hostname?: unknown } } | undefined;
  const hostname = env?.remoteAddr?.hostname;
  return typeof hostname === "string" && hostname !== "" ? addressBucket(hostname) : UNKNOWN_CLIENT;
}

/** Failure counts per client bucket, one fixed window each. */
export class FailureWindows {
  readonly #limit: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, { start: number; count: number }>();

  /** `limit` failures per window per bucket (0: never locked out); `now` is for tests. */
  constructor(limit: number, options?: { now?: () => number }) {
    this.#limit = limit;
    this.#now = options?.now ?? Date.now;
  }

  /** Seconds until `bucket` may try again (rounded up), or 0 when it is not locked out. */
  lockedFor(bucket: string): number {
    if (this.#limit <= 0) return 0;
    const w = this.#windows.get(bucket);
    if (!w) return 0;
    const left = w.start + FAILURE_WINDOW_MS - this.#now();
    if (left <= 0) {
      this.#windows.delete(bucket);
      return 0;
    }
    return w.count >= this.#limit ? Math.ceil(left / 1000) : 0;
  }

  /** Count one failed attempt from `bucket`. */
  record(bucket: string): void {
    if (this.#limit <= 0) return;
    const now = this.#now();
    let w = this.#windows.get(bucket);
    if (w && now - w.start >= FAILURE_WINDOW_MS) {
      this.#windows.delete(bucket);
      w = undefined;
    }
    if (!w) {
      this.#makeRoom(now);
      this.#windows.set(bucket, w = { start: now, count: 0 });
    }
    w.count++;
  }

  /** Number of buckets tracked now. */
  get size(): number {
    return this.#windows.size;
  }

  #makeRoom(now: number): void {
    if (this.#windows.size < MAX_TRACKED) return;
    for (const [bucket, w] of this.#windows) {
      if (now - w.start >= FAILURE_WINDOW_MS) this.#windows.delete(bucket);
    }
    // Map order is insertion order: the oldest windows go first.
    for (const bucket of this.#windows.keys()) {
      if (this.#windows.size < MAX_TRACKED) break;
      this.#windows.delete(bucket);
    }
  }
}
