/**
 * Where dictionaries live. One interface, four schemes: `file://` (the embedded default),
 * `s3://BUCKET/PREFIX`, `https://...` (read-only) and `hf://ORG/REPO[@REV]`.
 * @module
 */

import { resolve } from "node:path";
import { SaeError } from "../../domain/errors.ts";
import { fileStore } from "./file.ts";
import { hfStore } from "./hf.ts";
import { httpStore } from "./http.ts";
import { s3Store } from "./s3.ts";
import type { Store } from "./store.ts";

export type { Store, StoreEntry } from "./store.ts";

/**
 * Open the store at `url` ($SAESERVE_STORE): `file://PATH` (`file://./dictionaries` and other
 * paths not starting with `/` resolve against the working directory; a bare path works too),
 * `s3://BUCKET/PREFIX`, `https://...` or `http://...` (read-only) and `hf://ORG/REPO[@REV]`.
 * `env` supplies the AWS_* and HF_* settings. Throws SaeError "invalid" for anything else.
 */
export function openStore(url: string, env: Record<string, string | undefined>): Store {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return fileStore(resolve(url));
  if (scheme === "file") {
    let rest = url.slice("file:".length);
    if (rest.startsWith("//")) rest = rest.slice(2).replace(/^localhost(?=\/)/i, "");
    let path: string;
    try {
      path = decodeURIComponent(rest);
    } catch {
      throw new SaeError("invalid", "the file store path is not valid percent-encoding");
    }
    return fileStore(resolve(path));
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SaeError("invalid", `the ${scheme}: store address is not a valid URL`);
  }
  switch (scheme) {
    case "s3":
      return s3Store(parsed, env);
    case "http":
    case "https":
      return httpStore(parsed);
    case "hf":
      return hfStore(parsed, env);
    default:
      throw new SaeError(
        "invalid",
        `unknown store scheme ${JSON.stringify(scheme)}: use file://, s3://, https:// or hf://`,
      );
  }
}
