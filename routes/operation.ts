/**
 * One row of the route table: an operation described as data (method, path, summary, request,
 * responses with every error status it can answer, examples) beside its handler. mod.ts
 * mounts every row on the app and openapi.ts writes the document from the same rows.
 * @module
 */

import type { z } from "zod";
import { SaeError } from "../domain/errors.ts";
import type { AppContext } from "./env.ts";
import { ProblemSchema } from "./schemas.ts";

/** HTTP methods the service answers. */
export type Method = "get" | "post";

/** A handler of one operation. */
export type RouteHandler = (c: AppContext) => Response | Promise<Response>;

/** A query parameter (options next to a binary body). */
export interface QueryParam {
  readonly name: string;
  readonly description: string;
  /** JSON schema of the value as written in the URL. */
  readonly schema: Readonly<Record<string, unknown>>;
}

/** A query parameter of an operation that also takes an .npy body. */
export function npyQuery(name: string, about: { description: string; type?: string }): QueryParam {
  const { description, type = "string" } = about;
  return { name, description: `with an .npy body: ${description}`, schema: { type } };
}

/** .npy request bodies (activations [rows, d_in]; options then go in the query string). */
export const NPY_BODY: Readonly<Record<string, string>> = {
  "application/x-npy":
    ".npy array [rows, d_in] (f16, f32 or f64; integer and bool arrays as their values)",
};

/** What an operation reads. */
export interface RequestSpec {
  /** Path parameters by name (`:id` in the path), with their descriptions. */
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: readonly QueryParam[];
  /** The JSON body. */
  readonly json?: z.ZodType;
  /** Binary bodies accepted besides JSON: media type -> description. */
  readonly binary?: Readonly<Record<string, string>>;
}

/** One answer of an operation. */
export interface ResponseSpec {
  readonly description: string;
  /** Media type -> a zod schema (JSON bodies) or a description (binary and text bodies). */
  readonly content?: Readonly<Record<string, z.ZodType | string>>;
  /** Response headers: name -> description. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A request that succeeds against the embedded store (dictionaries/); /docs pre-fills it. */
export interface Example {
  readonly name: string;
  readonly summary?: string;
  /** Path parameter values. */
  readonly params?: Readonly<Record<string, string>>;
  /** The JSON body. */
  readonly body?: unknown;
}

/** One operation of the route table. */
export interface Operation {
  readonly method: Method;
  /** Hono path syntax: `/v1/dictionaries/:id/encode`. */
  readonly path: string;
  readonly tag: string;
  readonly summary: string;
  readonly description?: string;
  readonly request?: RequestSpec;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  readonly examples?: readonly Example[];
  readonly handler: RouteHandler;
}

/** When each error status is answered (api.md "Errors"). */
const ERROR_CAUSES: Record<number, string> = {
  400: "malformed body, options or query (problem+json)",
  401: "no API key, when keys are configured (problem+json, WWW-Authenticate)",
  403: "a key that is not valid (problem+json)",
  404: "no such dictionary, aligned dictionary or model head (problem+json)",
  413: "body over SAESERVE_MAX_BODY_MB, or estimated work or answer over a budget (problem+json)",
  415: "unsupported Content-Type (problem+json)",
  422: "well-formed but wrong: shape, NaN/Inf, index or value out of range (problem+json)",
  429: "over capacity, per-key rate limit or failed-auth lockout (problem+json, Retry-After)",
  503: "store, backend or job worker unavailable, deadline passed, or shutting down (problem+json)",
};

/** The error answers for `statuses`, each a problem+json body. */
export function problems(...statuses: number[]): Record<number, ResponseSpec> {
  return Object.fromEntries(statuses.map((status) => [status, {
    description: ERROR_CAUSES[status] ?? "problem+json",
    content: { "application/problem+json": ProblemSchema },
  }]));
}

/** Statuses the API-key middleware can answer on /v1 routes (when keys are configured). */
export const AUTH_STATUSES = [401, 403, 429] as const;

/** Errors of a /v1 POST with a body, on a dictionary named in the path. */
export const DICTIONARY_POST_ERRORS: Record<number, ResponseSpec> = problems(
  400,
  ...AUTH_STATUSES,
  404,
  413,
  415,
  422,
  503,
);

/** The `id` path parameter. */
export const ID_PARAM = {
  id: "Dictionary id: its folder path in the store, URL-encoded (`/` -> `%2F`).",
} as const;

/** The path parameter `name` of the request (400 when the route has none; never for table paths). */
export function pathParam(c: AppContext, name: string): string {
  const value = c.req.param(name);
  if (value === undefined) throw new SaeError("malformed", `missing path parameter ${name}`);
  return value;
}

/** The path in OpenAPI syntax: `/:id/` -> `/{id}/`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, "{$1}");
}
