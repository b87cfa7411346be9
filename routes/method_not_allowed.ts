/**
 * A wrong method on a known path: 405 problem+json with an `Allow` header listing the methods
 * the route table has for that path (GET implies HEAD); OPTIONS answers 204 with the same
 * `Allow`. Mounted after every operation, so it only sees requests no operation took.
 * @module
 */

import type { Context } from "hono";
import type { Operation } from "./operation.ts";
import { problemResponse } from "./problem.ts";

/** Each path of `operations` (Hono syntax) with its methods in upper case, GET before HEAD. */
export function allowedMethods(operations: readonly Operation[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const op of operations) {
    const methods = out.get(op.path) ?? [];
    methods.push(op.method.toUpperCase());
    if (op.method === "get") methods.push("HEAD");
    out.set(op.path, methods);
  }
  for (const [path, methods] of out) out.set(path, [...new Set(methods), "OPTIONS"]);
  return out;
}

/** The handler for a path whose operations take only `allow`. */
export function methodNotAllowed(allow: readonly string[]): (c: Context) => Response {
  const header = allow.join(", ");
  return (c) => {
    if (c.req.method === "OPTIONS") return c.body(null, 204, { allow: header });
    const path = new URL(c.req.url).pathname;
    const res = problemResponse(c, {
      status: 405,
      detail: `${c.req.method} is not allowed on ${path}; use ${header.replace(", OPTIONS", "")}`,
    });
    res.headers.set("allow", header);
    return res;
  };
}
