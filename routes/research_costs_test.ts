import assert from "node:assert/strict";
import { DEFAULT_LIMITS } from "../domain/cost.ts";
import {
  checkAligned,
  checkCircuit,
  checkProbePredict,
  checkProbeTrain,
} from "./research_costs.ts";

Deno.test("checkProbeTrain and checkProbePredict: probe work, encode work and answer budgets", () => {
  const ask = {
    rows: 100,
    cols: 64,
    positives: 50,
    testRows: 0,
    methods: ["logistic", "sae"] as ("logistic" | "sae")[],
    ks: [1, 2],
  };
  checkProbeTrain(DEFAULT_LIMITS, { dIn: 64, dSae: 256 }, ask);
  assert.throws(
    () => checkProbeTrain({ ...DEFAULT_LIMITS, maxProbeWork: 1 }, null, ask),
    /fitting the probes/,
  );
  checkProbePredict(DEFAULT_LIMITS, null, { rows: 10, cols: 64 });
  assert.throws(
    () =>
      checkProbePredict({ ...DEFAULT_LIMITS, maxWork: 1 }, { dIn: 64, dSae: 256 }, {
        rows: 10,
        cols: 64,
      }),
    /encoding the rows/,
  );
});

Deno.test("checkCircuit: at most 512 heads, ground truth deduplicated and < heads", () => {
  const request = { epochs: 10, latents: 8, trainExamples: 4 };
  assert.deepEqual(
    checkCircuit(DEFAULT_LIMITS, { examples: 8, heads: 4, dModel: 4 }, {
      ...request,
      groundTruth: [1, 1, 0],
    }),
    [1, 0],
  );
  assert.throws(
    () => checkCircuit(DEFAULT_LIMITS, { examples: 8, heads: 513, dModel: 4 }, request),
    /at most 512/,
  );
  assert.throws(
    () =>
      checkCircuit(DEFAULT_LIMITS, { examples: 8, heads: 4, dModel: 4 }, {
        ...request,
        groundTruth: [4],
      }),
    /ground_truth head 4 is outside/,
  );
});

Deno.test("checkAligned bounds the work and the answer of the aligned routes", () => {
  const dict = { latents: 12, k: 3, streams: [{ name: "a", d: 6 }, { name: "b", d: 5 }] };
  const streams = new Map([["a", { rows: 4 }], ["b", { rows: 4 }]]);
  checkAligned(DEFAULT_LIMITS, dict, { streams });
  checkAligned(DEFAULT_LIMITS, dict, { streams, decodeTo: "b" });
  assert.throws(
    () => checkAligned({ ...DEFAULT_LIMITS, maxAnswerBytes: 10 }, dict, { streams, classes: 2 }),
    /the answer/,
  );
});
