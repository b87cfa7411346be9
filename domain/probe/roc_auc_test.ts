import assert from "node:assert/strict";
import { rocAuc } from "./roc_auc.ts";

Deno.test("rocAuc: perfect, reversed and chance orderings", () => {
  assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  assert.equal(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5, "all tied");
});

Deno.test("rocAuc: ties count half, as scikit-learn's roc_auc_score", () => {
  // Pairs (pos, neg): (0.4, 0.1) win, (0.4, 0.4) tie, (0.8, 0.1) win, (0.8, 0.4) win: 3.5 / 4.
  assert.equal(rocAuc([0.1, 0.4, 0.4, 0.8], [0, 0, 1, 1]), 0.875);
});

Deno.test("rocAuc: one class only is NaN", () => {
  assert.ok(Number.isNaN(rocAuc([0.1, 0.2], [1, 1])));
  assert.ok(Number.isNaN(rocAuc([0.1, 0.2], [0, 0])));
});
