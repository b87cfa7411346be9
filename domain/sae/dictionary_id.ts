/**
 * Dictionary ids are folder paths in the store (`demo-topk`, `gemma-scope-2b-pt-res/layer_20/
 * width_16k/average_l0_71`). Anything that could step outside the store is refused.
 * @module
 */

import { SaeError } from "../errors.ts";

/** Longest id accepted. */
export const MAX_ID_LENGTH = 1024;

/** Return `id` if it is a safe relative folder path; throw SaeError "not_found" otherwise. */
export function checkDictionaryId(id: string): string {
  const bad = (why: string) => new SaeError("not_found", `not a valid dictionary id: ${why}`);
  if (id.length === 0 || id.length > MAX_ID_LENGTH) throw bad(`length must be 1..${MAX_ID_LENGTH}`);
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(id)) {
    throw bad("control characters and backslashes are not allowed");
  }
  if (id.startsWith("/") || /^[a-zA-Z]:/.test(id)) throw bad("must be relative");
  for (const segment of id.split("/")) {
    if (segment === "" || segment === "." || segment === "..") {
      throw bad("empty, '.' or '..' path segment");
    }
  }
  return id;
}
