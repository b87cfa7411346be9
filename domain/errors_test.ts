/**
 * The domain's typed errors: kind, name, message, cause and client-safe info as given;
 * FormatError prefixes its container, defaults to "malformed" and may say "invalid". (The
 * kind-to-status table lives with the routes: routes/problem.ts, tested there.)
 * @module
 */

import assert from "node:assert/strict";
import { type ErrorKind, FormatError, SaeError, wireError } from "./errors.ts";

Deno.test("errors: SaeError carries its kind, message, cause and info", () => {
  const cause = new TypeError("socket closed");
  const e = new SaeError("unavailable", "store down", { cause, info: { retry_after: 3 } });
  assert.ok(e instanceof Error);
  assert.equal(e.name, "SaeError");
  assert.equal(e.kind, "unavailable");
  assert.equal(e.message, "store down");
  assert.equal(e.cause, cause);
  assert.deepEqual(e.info, { retry_after: 3 });
  const bare = new SaeError("not_found", "no such dictionary");
  assert.equal(bare.info, undefined);
  assert.equal(bare.cause, undefined);
  assert.match(String(bare), /^SaeError: no such dictionary$/);
});

Deno.test("errors: every kind is accepted as given", () => {
  const kinds: ErrorKind[] = [
    "malformed",
    "not_found",
    "too_large",
    "unsupported_media",
    "invalid",
    "over_capacity",
    "unavailable",
    "integrity",
  ];
  for (const kind of kinds) assert.equal(new SaeError(kind, kind).kind, kind);
});

Deno.test("errors: FormatError names its container, is malformed by default, or invalid", () => {
  const e = new FormatError("npy", "header is cut");
  assert.ok(e instanceof SaeError && e instanceof FormatError);
  assert.equal(e.name, "FormatError");
  assert.equal(e.kind, "malformed");
  assert.equal(e.message, "npy: header is cut");
  assert.equal(e.info, undefined);
  const cause = new RangeError("offset");
  const unsupported = new FormatError("npy", "complex dtype", { kind: "invalid", cause });
  assert.equal(unsupported.kind, "invalid");
  assert.equal(unsupported.cause, cause);
});

Deno.test("wireError keeps an SaeError's kind and info, a RangeError's name, and any message", () => {
  assert.deepEqual(wireError(new SaeError("invalid", "bad", { info: { limit: 3 } })), {
    name: "SaeError",
    kind: "invalid",
    message: "bad",
    info: { limit: 3 },
  });
  assert.deepEqual(wireError(new RangeError("out")), { name: "RangeError", message: "out" });
  assert.deepEqual(wireError(new TypeError("oops")), { name: "Error", message: "oops" });
  assert.deepEqual(wireError("text"), { name: "Error", message: "text" });
});
