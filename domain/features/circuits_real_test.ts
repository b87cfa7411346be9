/**
 * Circuit discovery on a real model: head outputs of a tiny attention-only transformer trained
 * (tests/fixtures/make_circuit_fixtures.py, Debian's python3-torch) until it formed induction
 * heads, on repeated (positive) and random (negative) prompts, with the previous-token and
 * induction heads found by ablation as ground truth. From 10 training examples, discovery must
 * rank them with node ROC AUC >= 0.85 (averaged over seeds, so no seed is cherry-picked), with no
 * warning (circuit_checks.ts).
 * @module
 */

import assert from "node:assert/strict";
import { discoverCircuit } from "./circuits.ts";
import { decodeNpy } from "../io/npy.ts";
import { wasmBackend } from "../../backends/wasm/mod.ts";

const DIR = new URL("../../tests/fixtures/circuits/", import.meta.url);

Deno.test("circuits: induction and previous-token heads of a real tiny transformer, node ROC AUC >= 0.85", async () => {
  const outputs = decodeNpy(Deno.readFileSync(new URL("head_outputs.npy", DIR)));
  const labels = Array.from(
    decodeNpy(Deno.readFileSync(new URL("labels.npy", DIR))).data,
    (v) => (v > 0.5 ? 1 : 0),
  );
  const meta = JSON.parse(Deno.readTextFileSync(new URL("meta.json", DIR)));
  const [examples, heads, dModel] = outputs.shape;
  const backend = await wasmBackend({ threads: 2 });
  try {
    const aucs: number[] = [];
    for (const seed of [0, 1, 2, 3]) {
      const result = await discoverCircuit(
        backend,
        { examples, heads, dModel, data: outputs.data },
        {
          labels,
          groundTruth: meta.ground_truth,
          trainExamples: 10,
          seed,
        },
      );
      aucs.push(result.rocAuc!.node);
      assert.deepEqual(result.warnings, [], `seed ${seed}`);
    }
    const mean = aucs.reduce((a, b) => a + b, 0) / aucs.length;
    console.log(
      `node ROC AUC per seed ${aucs.map((a) => a.toFixed(3)).join(", ")}; mean ${mean.toFixed(3)}`,
    );
    assert.ok(mean >= 0.85, `mean node ROC AUC ${mean}`);
    assert.ok(aucs.every((a) => a >= 0.75), `${aucs}`);
  } finally {
    backend.close();
  }
});
