import assert from "node:assert/strict";
import { withPatchPositions } from "./vision_grid.ts";

Deno.test("withPatchPositions turns patches into rows of every image; needs a grid", () => {
  // Two images of 1 + 2 x 2 tokens: patch 3 is row 4 of image 0 and row 9 of image 1.
  const out = withPatchPositions({
    interventions: [{ feature: 1, mode: "add", value: 1, patches: [3] } as never],
    grid: [2, 2],
    skip_tokens: 1,
  }, 10);
  assert.deepEqual(out[0].positions, [4, 9]);
  assert.equal("patches" in out[0], false);
  const plain = withPatchPositions({
    interventions: [{ feature: 1, mode: "add", value: 1, positions: [0] }],
    skip_tokens: 0,
  }, 10);
  assert.deepEqual(plain[0].positions, [0]);
  assert.throws(
    () =>
      withPatchPositions({
        interventions: [{ feature: 1, mode: "add", value: 1, patches: [0] } as never],
        skip_tokens: 0,
      }, 4),
    /patches need a grid/,
  );
});
