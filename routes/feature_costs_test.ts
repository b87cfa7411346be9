import assert from "node:assert/strict";
import { DEFAULT_LIMITS } from "../domain/cost.ts";
import {
  checkFeatureScores,
  checkFeatureStats,
  checkHeatmap,
  checkSemanticProbe,
} from "./feature_costs.ts";

const DIMS = { dIn: 64, dSae: 256, k: 8 };
const HEAD = { dModel: 64, vocab: 128 };

Deno.test("checkFeatureScores: top at most the vocabulary; work and answer budgets", () => {
  checkFeatureScores(DEFAULT_LIMITS, { dims: DIMS, head: HEAD }, {
    features: 2,
    top: 10,
    answerNumbers: 60,
  });
  assert.throws(
    () =>
      checkFeatureScores(DEFAULT_LIMITS, { dims: DIMS, head: HEAD }, {
        features: 1,
        top: 129,
        answerNumbers: 1,
      }),
    /top 129 is larger than the vocabulary size/,
  );
  assert.throws(
    () =>
      checkFeatureScores({ ...DEFAULT_LIMITS, maxWork: 1 }, { dims: DIMS, head: HEAD }, {
        features: 2,
        rows: 100,
        answerNumbers: 1,
      }),
    /send fewer rows or features/,
  );
});

Deno.test("checkFeatureStats checks the work before encoding and the answer after", () => {
  checkFeatureStats(DEFAULT_LIMITS, DIMS, { rows: 8, topRows: 3 });
  assert.throws(
    () => checkFeatureStats({ ...DEFAULT_LIMITS, maxWork: 1 }, DIMS, { rows: 8, topRows: 3 }),
    /the statistics work/,
  );
  const codes = { width: 256, indices: [Int32Array.from([1, 2])], values: [Float32Array.of(1, 2)] };
  assert.throws(
    () =>
      checkFeatureStats({ ...DEFAULT_LIMITS, maxAnswerBytes: 10 }, DIMS, {
        rows: 1,
        topRows: 3,
        codes,
      }),
    /the answer/,
  );
});

Deno.test("checkHeatmap bounds the output pixels; checkSemanticProbe bounds top", () => {
  checkHeatmap(DEFAULT_LIMITS, DIMS, { rows: 17, grid: [4, 4], size: [64, 64] });
  assert.throws(
    () =>
      checkHeatmap({ ...DEFAULT_LIMITS, maxImagePixels: 100 }, DIMS, {
        rows: 17,
        grid: [4, 4],
      }),
    /the 64 x 64 heatmap/,
  );
  checkSemanticProbe(DEFAULT_LIMITS, DIMS, { rows: 34, top: 5 });
  assert.throws(() => checkSemanticProbe(DEFAULT_LIMITS, DIMS, { rows: 34, top: 300 }), /d_sae/);
});
