import assert from "node:assert/strict";
import { DEFAULT_LIMITS } from "../domain/cost.ts";
import { checkCodesAnswer, checkDecode, checkEncode, checkSteer } from "./compute_costs.ts";

const DIMS = { dIn: 64, dSae: 256, k: 8 };
const ENCODE = { skip_tokens: 0, maps_top: 8 };

Deno.test("checkEncode: top and map_features within d_sae, deduplicated; budgets are 413", () => {
  const ok = checkEncode(DEFAULT_LIMITS, DIMS, {
    rows: 34,
    options: { ...ENCODE, grid: [4, 4], skip_tokens: 1, map_features: [3, 3, 7] },
    binary: false,
  });
  assert.deepEqual(ok.mapFeatures, [3, 7]);
  assert.ok(ok.otherBytes > 0);
  assert.throws(
    () =>
      checkEncode(DEFAULT_LIMITS, DIMS, {
        rows: 1,
        options: { ...ENCODE, top: 257 },
        binary: false,
      }),
    /top 257 is larger than d_sae/,
  );
  assert.throws(
    () =>
      checkEncode(DEFAULT_LIMITS, DIMS, {
        rows: 35,
        options: { ...ENCODE, grid: [4, 4], skip_tokens: 1 },
        binary: false,
      }),
    /not a whole number of images/,
  );
  const tiny = { ...DEFAULT_LIMITS, maxWork: 10 };
  assert.throws(
    () => checkEncode(tiny, DIMS, { rows: 10, options: ENCODE, binary: false }),
    /the encode work is estimated/,
  );
});

Deno.test("checkCodesAnswer and checkDecode bound the answer and the work", () => {
  const small = { ...DEFAULT_LIMITS, maxAnswerBytes: 100 };
  const codes = { width: 256, indices: [Int32Array.from([1, 2])], values: [Float32Array.of(1, 2)] };
  checkCodesAnswer(DEFAULT_LIMITS, codes, { otherBytes: 0, binary: false });
  assert.throws(
    () => checkCodesAnswer(small, codes, { otherBytes: 1000, binary: false }),
    /the answer is estimated/,
  );
  checkDecode(DEFAULT_LIMITS, DIMS, { rows: 2, nonZeros: 4, binary: false });
  assert.throws(() => checkDecode(small, DIMS, { rows: 2, binary: false }), /SAESERVE_/);
});

Deno.test("checkSteer deduplicates positions and 422s a position past the rows", () => {
  const out = checkSteer(DEFAULT_LIMITS, DIMS, {
    rows: 3,
    interventions: [{ feature: 1, mode: "add", value: 1, positions: [2, 2, 0] }],
    binary: false,
  });
  assert.deepEqual(out[0].positions, [2, 0]);
  assert.throws(
    () =>
      checkSteer(DEFAULT_LIMITS, DIMS, {
        rows: 3,
        interventions: [{ feature: 1, mode: "add", value: 1, positions: [3] }],
        binary: false,
      }),
    /position 3 is outside \[0, 3\)/,
  );
});
