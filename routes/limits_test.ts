import assert from "node:assert/strict";
import { DEFAULT_LIMITS } from "../domain/cost.ts";
import { SaeError } from "../domain/errors.ts";
import { checkTop, limitsOf, uniqueIndices, withinBudget } from "./limits.ts";

Deno.test("limitsOf: configured positive budgets over the defaults", () => {
  assert.deepEqual(limitsOf({}), DEFAULT_LIMITS);
  const limits = limitsOf({ limits: { maxWork: 10, maxAnswerBytes: 0 } });
  assert.equal(limits.maxWork, 10);
  assert.equal(limits.maxAnswerBytes, DEFAULT_LIMITS.maxAnswerBytes);
});

Deno.test("withinBudget: 413 naming the variable, with limit, value and estimate", () => {
  const limits = limitsOf({ limits: { maxWork: 100 } });
  withinBudget(limits, "maxWork", { estimate: 100, what: "the work" });
  assert.throws(
    () => withinBudget(limits, "maxWork", { estimate: 250, what: "the work", hint: "less" }),
    (e: unknown) => {
      assert.ok(e instanceof SaeError);
      assert.equal(e.kind, "too_large");
      assert.match(e.message, /the work is estimated at 250 work units, over the limit of 100/);
      assert.match(e.message, /: less$/);
      assert.equal(e.info?.limit_value, 100);
      assert.equal(e.info?.estimate, 250);
      return true;
    },
  );
});

Deno.test("uniqueIndices deduplicates in order and 422s outside the bound; checkTop", () => {
  assert.deepEqual(
    uniqueIndices([3, 1, 3, 0], { bound: 4, boundName: "rows", what: "position" }),
    [3, 1, 0],
  );
  assert.throws(
    () => uniqueIndices([4], { bound: 4, boundName: "rows", what: "position" }),
    /position 4 is outside \[0, 4\) \(rows 4\)/,
  );
  checkTop(undefined, { bound: 1, boundName: "d_sae" });
  checkTop(8, { bound: 8, boundName: "d_sae" });
  assert.throws(() => checkTop(9, { bound: 8, boundName: "d_sae" }), /top 9 is larger than d_sae/);
});
