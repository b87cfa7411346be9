import assert from "node:assert/strict";
import { scheduledLr } from "./adam.ts";
import { defaultBatch, defaultLr, RunSchedule, runSteps } from "./schedule.ts";

Deno.test("defaultLr: sparsify's 2e-4 / sqrt(latents / 16384)", () => {
  assert.equal(defaultLr(16384), 2e-4);
  assert.ok(Math.abs(defaultLr(64) - 3.2e-3) < 1e-12);
  assert.ok(Math.abs(defaultLr(65536) - 1e-4) < 1e-12);
});

Deno.test("runSteps: steps, else epochs, else one pass but at least minSteps", () => {
  assert.equal(runSteps(1000, { batch: 10, steps: 7, epochs: 3 }), 7);
  assert.equal(runSteps(1000, { batch: 10, epochs: 2.5 }), 250);
  assert.equal(runSteps(1000, { batch: 10 }), 5000);
  assert.equal(runSteps(1e8, { batch: 4096 }), 24415);
  assert.equal(runSteps(1000, { batch: 10, minSteps: 50 }), 100);
});

Deno.test("defaultBatch: the preferred batch, at most 1/32 of the rows, at least 64, at most the rows", () => {
  assert.equal(defaultBatch(1e7, 4096), 4096);
  assert.equal(defaultBatch(50_000, 4096), 1024);
  assert.equal(defaultBatch(5000, 4096), 128);
  assert.equal(defaultBatch(100, 4096), 64);
  // Fewer rows than 64: one batch is all of them (an explicit larger --batch is refused).
  assert.equal(defaultBatch(50, 4096), 50);
  assert.equal(defaultBatch(2, 4096), 2);
});

Deno.test("RunSchedule: without a plateau it is scheduledLr's warmup, plateau and decay", () => {
  const s = new RunSchedule({ lr: 0.1, steps: 100, warmup: 5, decay: 20 });
  for (let step = 0; step < 100; step++) {
    assert.equal(s.rateAt(step), scheduledLr(step, { lr: 0.1, steps: 100, warmup: 5, decay: 20 }));
    s.observe(step, 1);
  }
  assert.equal(s.steps, 100);
  assert.equal(s.plateauAt, null);
});

Deno.test("RunSchedule: a plateau starts the final decay early; improvement keeps it going", () => {
  const s = new RunSchedule({
    lr: 1,
    steps: 10_000,
    warmup: 0,
    decay: 2000,
    plateau: { window: 10, patience: 3, tolerance: 0.01 },
  });
  // Improving 5% per window for 20 windows, then flat.
  let step = 0;
  for (; step < 200; step++) s.observe(step, 0.95 ** Math.floor(step / 10));
  assert.equal(s.plateauAt, null);
  for (; s.plateauAt === null; step++) s.observe(step, 0.95 ** 19);
  // The window of step 200-209 is flat; the third flat window ends at step 230.
  assert.equal(s.plateauAt, 230);
  assert.equal(s.steps, 230 + 46);
  assert.equal(s.rateAt(230), 1);
  assert.equal(s.rateAt(231), 45 / 46);
  assert.ok(Math.abs(s.rateAt(275) - 1 / 46) < 1e-12);
});
