import assert from "node:assert/strict";
import { Adam, scheduledLr } from "./adam.ts";

Deno.test("scheduledLr: linear warmup, plateau, linear decay to zero", () => {
  const o = { lr: 1, steps: 10, warmup: 4, decay: 4 };
  const lrs = Array.from({ length: 10 }, (_, s) => scheduledLr(s, o));
  assert.deepEqual(lrs, [0.25, 0.5, 0.75, 1, 1, 1, 1, 0.75, 0.5, 0.25]);
  assert.equal(scheduledLr(3, { lr: 0.1, steps: 10, warmup: 0, decay: 0 }), 0.1);
});

Deno.test("Adam: the first step moves each parameter by lr against its gradient's sign", () => {
  const p = Float32Array.of(1, 1, 1);
  new Adam().step([["p", p, Float32Array.of(0.5, -3, 0)]], 0.1);
  // m^ = g, v^ = g^2 after bias correction: the step is lr * g / (|g| + eps).
  assert.ok(Math.abs(p[0] - 0.9) < 1e-6);
  assert.ok(Math.abs(p[1] - 1.1) < 1e-6);
  assert.equal(p[2], 1);
});

Deno.test("Adam: minimizes a quadratic, keeping state per named parameter", () => {
  const adam = new Adam();
  const a = Float32Array.of(5, -4);
  const b = Float32Array.of(2);
  for (let i = 0; i < 2000; i++) {
    // f = |a - 1|^2 + |b + 3|^2
    adam.step([
      ["a", a, a.map((v) => 2 * (v - 1))],
      ["b", b, b.map((v) => 2 * (v + 3))],
    ], 0.05);
  }
  for (const v of a) assert.ok(Math.abs(v - 1) < 1e-2, `a ${v}`);
  assert.ok(Math.abs(b[0] + 3) < 1e-2, `b ${b[0]}`);
});
