/**
 * A hostile request as the generators describe it, and the JSON request it is usually sent as.
 * @module
 */

/** The app's body limit in the hostile run, bytes. */
export const MAX_BODY = 64 << 10;

/** One generated request and what it may be answered with. */
export interface Hostile {
  readonly kind: string;
  readonly what: string;
  readonly url: string;
  readonly init: () => RequestInit;
  /** Allowed statuses. */
  readonly expect: readonly number[];
  /** Finite-but-huge scalar: a 200 is recorded as a known issue instead of failing. */
  readonly overflow?: boolean;
}

/** Bodies as the fetch types want them. */
export type Bytes = Uint8Array<ArrayBuffer>;

/** A JSON content type. */
export const JSON_HEADERS = { "content-type": "application/json" };
/** An .npy content type. */
export const NPY_HEADERS = { "content-type": "application/x-npy" };

/** A POST of `body` (with JSON headers unless `headers` is given). */
export function jsonRequest(
  body: string | Bytes,
  headers: Record<string, string> = JSON_HEADERS,
): () => RequestInit {
  return () => ({ method: "POST", headers, body });
}
