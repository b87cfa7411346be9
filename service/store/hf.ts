/**
 * The Hugging Face Hub store (`hf://ORG/REPO[@REV][/FOLDER]`, read-only): files are read with
 * ranged GETs from `{endpoint}/{repo}/resolve/{rev}/{path}` and listed through the Hub's tree
 * API. HF_TOKEN, when set, is sent as a bearer token and never shown.
 * @module
 */

import type { ByteSource } from "../../domain/io/byte_source.ts";
import { SaeError } from "../../domain/errors.ts";
import { httpObject } from "./http.ts";
import { fetchWithRetry, responseError, type RetryOptions } from "./http_fetch.ts";
import type { Store, StoreEntry } from "./store.ts";
import { encodePath, isObjectPath, objectPath } from "./object_path.ts";

/** Options for {@link hfStore}. */
export interface HfStoreOptions extends RetryOptions {
  /** The fetch to use; default the global one. */
  readonly fetch?: typeof fetch;
}

/**
 * A store over a Hub repository: `hf://ORG/REPO` (model), `hf://datasets/ORG/REPO` (dataset),
 * with an optional `@REV` (branch, tag or commit; default main, `/` written as `%2F`) and an
 * optional folder inside the repository after it. From `env`: HF_ENDPOINT (default
 * https://huggingface.co) and HF_TOKEN.
 */
export function hfStore(
  url: URL,
  env: Record<string, string | undefined>,
  options: HfStoreOptions = {},
): Store {
  const repo = parseHfUrl(url);
  const endpoint = (env.HF_ENDPOINT || "https://huggingface.co").replace(/\/+$/, "");
  let endpointOrigin: string;
  try {
    endpointOrigin = new URL(endpoint).origin;
  } catch {
    throw new SaeError("invalid", "HF_ENDPOINT is not a URL");
  }
  const headers = new Headers();
  if (env.HF_TOKEN) headers.set("authorization", `Bearer ${env.HF_TOKEN}`);
  const send = options.fetch ?? fetch;
  const rev = encodeURIComponent(repo.revision);
  const kindPath = repo.kind === "models" ? "" : `${repo.kind}/`;
  const describe = `hf://${kindPath}${repo.id}${repo.revision === "main" ? "" : `@${rev}`}` +
    (repo.folder ? `/${repo.folder}` : "");
  const inRepo = (relative: string): string =>
    [repo.folder, relative].filter((part) => part !== "").join("/");

  /** Fetch one listing URL; the token goes only to the Hub's own origin. */
  const get = (target: URL, label: string): Promise<Response> =>
    fetchWithRetry(
      (signal) =>
        send(target, { headers: target.origin === endpointOrigin ? headers : undefined, signal }),
      { ...options, label },
    );

  return {
    describe,

    async list(prefix: string): Promise<StoreEntry[]> {
      const folder = objectPath(prefix, { allowEmpty: true });
      const inside = inRepo(folder);
      const label = `${describe}${folder ? `/${folder}` : ""} (listing)`;
      let next: URL | null = new URL(
        `${endpoint}/api/${repo.kind}/${repo.id}/tree/${rev}` +
          (inside ? `/${encodePath(inside)}` : "") + "?recursive=true",
      );
      const strip = repo.folder ? `${repo.folder}/` : "";
      const entries: StoreEntry[] = [];
      while (next) {
        const response = await get(next, label);
        if (!response.ok) {
          const error = await responseError(response, label);
          if (error.kind !== "not_found") throw error;
          if (inside) return []; // no such folder
          throw new SaeError("unavailable", `${describe}: repository or revision not found`);
        }
        const page = await readJson(response, label);
        if (!Array.isArray(page)) throw new SaeError("unavailable", `${label}: not a JSON array`);
        for (const item of page) {
          if (item?.type !== "file" || typeof item.path !== "string") continue;
          if (!item.path.startsWith(strip)) continue;
          const path = item.path.slice(strip.length);
          const size = item.size ?? item.lfs?.size;
          if (!Number.isSafeInteger(size) || size < 0 || !isObjectPath(path)) continue;
          entries.push({ path, size });
        }
        next = nextLink(response.headers.get("link"), next);
      }
      return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },

    async open(path: string): Promise<ByteSource> {
      const relative = objectPath(path);
      const target = new URL(
        `${endpoint}/${kindPath}${repo.id}/resolve/${rev}/${encodePath(inRepo(relative))}`,
      );
      return await httpObject(target, {
        ...options,
        fetch: send,
        headers,
        label: `${describe}/${relative}`,
      });
    },

    async ping(): Promise<void> {
      const target = new URL(`${endpoint}/api/${repo.kind}/${repo.id}/tree/${rev}`);
      const response = await get(target, describe);
      if (!response.ok) {
        const error = await responseError(response, describe);
        throw error.kind === "not_found"
          ? new SaeError("unavailable", `${describe}: repository or revision not found`)
          : error;
      }
      await response.body?.cancel();
    },
  };
}

interface HfRepo {
  /** "models", "datasets" or "spaces": the Hub's API collection. */
  readonly kind: string;
  /** "ORG/REPO". */
  readonly id: string;
  readonly revision: string;
  /** A folder inside the repository that the store is rooted at; "" for the root. */
  readonly folder: string;
}

function parseHfUrl(url: URL): HfRepo {
  const invalid = (): never => {
    throw new SaeError("invalid", "a Hub store address looks like hf://ORG/REPO[@REV][/FOLDER]");
  };
  if (url.protocol !== "hf:" || url.username || url.password || url.port) invalid();
  let parts: string[];
  try {
    parts = [url.hostname, ...url.pathname.split("/")]
      .filter((p) => p !== "")
      .map(decodeURIComponent);
  } catch {
    return invalid();
  }
  let kind = "models";
  if (parts[0] === "datasets" || parts[0] === "spaces") kind = parts.shift()!;
  if (parts.length < 2) invalid();
  const org = parts[0];
  const at = parts[1].indexOf("@");
  const name = at < 0 ? parts[1] : parts[1].slice(0, at);
  const revision = at < 0 ? "main" : parts[1].slice(at + 1);
  const valid = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
  if (!valid.test(org) || !valid.test(name) || revision === "") invalid();
  const folder = objectPath(parts.slice(2).join("/"), { allowEmpty: true, refuseAs: "invalid" });
  return { kind, id: `${org}/${name}`, revision, folder };
}

/** The rel="next" target of an RFC 8288 Link header, resolved against `base`. */
function nextLink(header: string | null, base: URL): URL | null {
  if (!header) return null;
  for (const link of header.split(/,\s*(?=<)/)) {
    const match = /^<([^>]*)>(.*)$/.exec(link.trim());
    if (match && /;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(match[2])) {
      return new URL(match[1], base);
    }
  }
  return null;
}

async function readJson(response: Response, label: string): Promise<unknown> {
  try {
    return await response.json();
  } catch (error) {
    throw new SaeError("unavailable", `${label}: the answer is not JSON`, { cause: error });
  }
}
