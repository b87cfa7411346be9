import assert from "node:assert/strict";
import { checkDictionaryId } from "./dictionary_id.ts";
import { SaeError } from "../errors.ts";

Deno.test("dictionary ids accept nested folder paths", () => {
  assert.equal(checkDictionaryId("demo-topk"), "demo-topk");
  const gemma = "gemma-scope-2b-pt-res/layer_20/width_16k/average_l0_71";
  assert.equal(checkDictionaryId(gemma), gemma);
});

Deno.test("dictionary ids refuse traversal, absolute paths and control characters", () => {
  for (
    const id of [
      "..",
      "../etc",
      "a/../../b",
      "/etc/passwd",
      "a//b",
      "a/./b",
      "a\\b",
      "a\u0000b",
      "",
      "C:/x",
    ]
  ) {
    assert.throws(
      () => checkDictionaryId(id),
      (e) => e instanceof SaeError && e.kind === "not_found",
      id,
    );
  }
});
