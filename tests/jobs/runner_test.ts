import assert from "node:assert/strict";
import { JobRunner } from "../../jobs/mod.ts";
import { matrix } from "../../domain/matrix.ts";

Deno.test("jobs: a task runs on a worker and its result comes back", async () => {
  const runner = new JobRunner();
  const codes = { width: 4, indices: [Int32Array.of(1, 2), Int32Array.of(3)], values: [Float32Array.of(2, 1), Float32Array.of(5)] };
  const out = await runner.run("feature_maps", { codes, rows: 2, grid: { h: 1, w: 2, skip: 0 }, images: 1, top: 2 });
  assert.equal(out.length, 1);
  runner.close();
});
