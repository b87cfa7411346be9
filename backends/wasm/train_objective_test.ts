/**
 * The WASM training objective as a kernel call: stopped by live calls at its checkpoints and
 * resumed, a research batch gives bit-identical results; other architectures are refused.
 * (Its numbers against the TypeScript reference: domain/train/objective_test.ts.)
 * @module
 */

import assert from "node:assert/strict";
import { matrix } from "../../domain/sae/matrix.ts";
import { uniformArray } from "../../domain/random.ts";
import type { ObjectiveOptions, SaeParams } from "../../domain/train/params.ts";
import { wasmBackend } from "./mod.ts";

const [dIn, dSae, rows] = [64, 2048, 1500];
const params: SaeParams = {
  dIn,
  dSae,
  wEnc: uniformArray(dIn * dSae, 1),
  bEnc: uniformArray(dSae, 2, { scale: 0.1 }),
  wDec: uniformArray(dSae * dIn, 3),
  bDec: uniformArray(dIn, 4, { scale: 0.2 }),
  logThreshold: new Float32Array(0),
};
const x = matrix([rows, dIn], uniformArray(rows * dIn, 5));
const options: ObjectiveOptions = {
  architecture: "batchtopk",
  k: 8,
  dead: Uint8Array.from({ length: dSae }, (_, i) => (i % 5 === 0 ? 1 : 0)),
};

Deno.test("sparseObjective: stopped by live calls at checkpoints and resumed, the same result", async () => {
  // A tiny checkpoint budget: the encode checks in after every row of every tile.
  const wasm = await wasmBackend({ threads: 2, checkpointWork: 1 << 12 });
  try {
    const alone = await wasm.sparseObjective(params, x, options);
    assert.ok(alone.auxLoss > 0 && alone.l0 > 0);
    let finished = false;
    const research = wasm.sparseObjective(params, x, { ...options, priority: "research" })
      .finally(() => (finished = true));
    const a = matrix([4, 8], uniformArray(32, 6));
    let overtook = 0;
    while (!finished) {
      await wasm.matmul(a, a, { transposeB: true });
      if (!finished) overtook++;
    }
    const interrupted = await research;
    assert.ok(overtook > 0, "live calls ran while the research batch was in flight");
    const { grads, ...stats } = interrupted;
    const { grads: want, ...wantStats } = alone;
    assert.deepEqual(stats, wantStats);
    assert.deepEqual(grads, want);
  } finally {
    wasm.close();
  }
});

Deno.test("sparseObjective: ReLU and JumpReLU are left to the reference", async () => {
  const wasm = await wasmBackend({ threads: 1 });
  try {
    await assert.rejects(wasm.sparseObjective(params, x, { architecture: "relu" }), RangeError);
  } finally {
    wasm.close();
  }
});
