/**
 * Store-relative object paths: one normal form for every store, and the checks that keep a
 * path (often taken from a URL) inside the store's root.
 * @module
 */

import { type ErrorKind, SaeError } from "../../domain/errors.ts";
import { encodeRfc3986 } from "./sigv4.ts";

/** Options for {@link objectPath}. */
export interface ObjectPathOptions {
  /** Accept "" (the store root), as a list prefix may be. Default false. */
  readonly allowEmpty?: boolean;
  /**
   * The kind of error for a refused path. Default "not_found": a path that cannot name an
   * object inside the store names nothing (as an unknown dictionary id does). Writes and
   * configuration use "invalid".
   */
  readonly refuseAs?: ErrorKind;
}

/**
 * Normalize a relative object path to `a/b/c` form: empty and `.` segments are dropped (so a
 * trailing `/` is fine). Throws SaeError (kind `refuseAs`, default "not_found") for an
 * absolute path, a `..` segment, a backslash, a NUL or other control character, a lone
 * surrogate, or (unless allowed) an empty result.
 */
export function objectPath(path: string, options: ObjectPathOptions = {}): string {
  const refuse = (why: string): SaeError =>
    new SaeError(options.refuseAs ?? "not_found", `path ${JSON.stringify(path)} ${why}`);
  if (path.startsWith("/")) throw refuse("must be relative");
  // deno-lint-ignore no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(path) || !path.isWellFormed()) {
    throw refuse("contains a backslash, a control character or broken UTF-16");
  }
  const segments = path.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) throw refuse("leaves its folder");
  if (segments.length === 0 && !options.allowEmpty) throw refuse("names no object");
  return segments.join("/");
}

/** Whether `path` is already in normal form: what listings may report (others are skipped). */
export function isObjectPath(path: string): boolean {
  try {
    return objectPath(path) === path;
  } catch {
    return false;
  }
}

/**
 * `path` with each segment percent-encoded (RFC 3986, UTF-8; `/` kept), ready to append to a
 * URL: strict enough that what is sent is exactly what a SigV4 signature covers.
 */
export function encodePath(path: string): string {
  return path === "" ? "" : path.split("/").map(encodeRfc3986).join("/");
}
