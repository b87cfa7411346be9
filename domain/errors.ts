/**
 * Typed errors raised by the domain. Routes map each kind to an HTTP status and a
 * problem+json body; nothing here knows about HTTP.
 * @module
 */

/** What went wrong, in terms a caller can act on. */
export type ErrorKind =
  | "malformed" // the bytes do not parse (400)
  | "not_found" // unknown dictionary or file (404)
  | "too_large" // over a configured size bound (413)
  | "unsupported_media" // content type we do not read (415)
  | "invalid" // parses, but shape / dtype / value / index is wrong (422)
  | "over_capacity" // try again later (429)
  | "unavailable" // store or backend cannot serve now (503)
  | "integrity"; // a file's sha256 does not match saeserve.json (502-ish, reported as 503)

/** An error with a kind the HTTP layer maps to a status. */
export class SaeError extends Error {
  /** The category of the failure. */
  readonly kind: ErrorKind;
  /** Optional structured detail safe to show to a client (never credentials). */
  readonly info?: Record<string, unknown>;

  /** Create an error of `kind` with a client-safe `message`. */
  constructor(
    kind: ErrorKind,
    message: string,
    options?: { cause?: unknown; info?: Record<string, unknown> },
  ) {
    super(message, { cause: options?.cause });
    this.name = "SaeError";
    this.kind = kind;
    this.info = options?.info;
  }
}

/** A file format violation found by a parser (safetensors, npy, zip, npz, config). */
export class FormatError extends SaeError {
  /**
   * Create a format error; `format` names the container (e.g. "npy"). `kind` "invalid" marks
   * bytes that parse but hold something unsupported (a complex dtype, a 3-D array).
   */
  constructor(
    format: string,
    message: string,
    options?: { cause?: unknown; kind?: "malformed" | "invalid" },
  ) {
    super(options?.kind ?? "malformed", `${format}: ${message}`, options);
    this.name = "FormatError";
  }
}

/** A thrown value as it crosses to another thread: what the receiver rebuilds (no stack). */
export interface WireError {
  readonly name: "SaeError" | "RangeError" | "Error";
  readonly kind?: ErrorKind;
  readonly message: string;
  readonly info?: Record<string, unknown>;
}

/** `e` as a {@link WireError}: SaeErrors keep their kind and info, RangeErrors their name. */
export function wireError(e: unknown): WireError {
  if (e instanceof SaeError) {
    return { name: "SaeError", kind: e.kind, message: e.message, info: e.info };
  }
  if (e instanceof RangeError) return { name: "RangeError", message: e.message };
  return { name: "Error", message: (e as Error)?.message ?? String(e) };
}
