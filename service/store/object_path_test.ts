import assert from "node:assert/strict";
import { SaeError } from "../../domain/errors.ts";
import { encodePath, isObjectPath, objectPath } from "./object_path.ts";

function rejectsInvalid(path: string, options?: { allowEmpty?: boolean }): void {
  assert.throws(
    () => objectPath(path, options),
    (e) => e instanceof SaeError && e.kind === "not_found",
    `expected ${JSON.stringify(path)} to be refused as not_found`,
  );
  assert.throws(
    () => objectPath(path, { ...options, refuseAs: "invalid" }),
    (e) => e instanceof SaeError && e.kind === "invalid",
    `expected ${JSON.stringify(path)} to be refused as invalid when asked`,
  );
}

Deno.test("objectPath drops empty and dot segments", () => {
  assert.equal(objectPath("a/b/c"), "a/b/c");
  assert.equal(objectPath("a//b/./c/"), "a/b/c");
  assert.equal(objectPath("./a"), "a");
  assert.equal(objectPath("demo-topk/"), "demo-topk");
});

Deno.test("objectPath refuses absolute paths, dot-dot, backslashes and control characters", () => {
  const refused = [
    "/etc/passwd",
    "..",
    "a/../b",
    "../x",
    "a/..",
    "a/./../b",
    "a\\b",
    "..\\x",
    "a\0b",
    "a\nb",
    "a\u007fb",
    "lone\ud800surrogate",
  ];
  for (const path of refused) rejectsInvalid(path);
});

Deno.test("objectPath accepts the root only when allowed", () => {
  rejectsInvalid("");
  rejectsInvalid("./");
  assert.equal(objectPath("", { allowEmpty: true }), "");
  assert.equal(objectPath("./", { allowEmpty: true }), "");
  rejectsInvalid("/", { allowEmpty: true });
});

Deno.test("objectPath keeps dots inside names and unicode", () => {
  assert.equal(objectPath("a/..b/c..d/.hidden"), "a/..b/c..d/.hidden");
  assert.equal(objectPath("naïve/ファイル.npz"), "naïve/ファイル.npz");
});

Deno.test("encodePath escapes each segment strictly and keeps slashes", () => {
  assert.equal(encodePath(""), "");
  assert.equal(encodePath("a b/c$d/é"), "a%20b/c%24d/%C3%A9");
  assert.equal(encodePath("x+y/(1)"), "x%2By/%281%29");
});

Deno.test("isObjectPath accepts only paths already in normal form", () => {
  assert.ok(isObjectPath("a/b.bin"));
  assert.ok(!isObjectPath("a//b"));
  assert.ok(!isObjectPath("a/"));
  assert.ok(!isObjectPath("../a"));
  assert.ok(!isObjectPath(""));
});
