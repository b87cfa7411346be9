import assert from "node:assert/strict";
import { gaussian, gaussianArray, seededRandom, shuffled, uniformArray } from "./random.ts";

Deno.test("seededRandom: mulberry32's reference stream, reproducible per seed", () => {
  // mulberry32(0)'s first outputs (the reference C implementation, divided by 2^32).
  const r = seededRandom(0);
  assert.equal(Math.round(r() * 2 ** 32), 1144304738);
  assert.equal(Math.round(r() * 2 ** 32), 1416247);
  const a = seededRandom(42);
  const b = seededRandom(42);
  for (let i = 0; i < 100; i++) {
    const v = a();
    assert.equal(v, b());
    assert.ok(v >= 0 && v < 1);
  }
  assert.notEqual(seededRandom(1)(), seededRandom(2)());
});

Deno.test("gaussian: roughly standard normal over many draws", () => {
  const values = gaussianArray(20_000, 7);
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
  assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
  assert.ok(Number.isFinite(gaussian(seededRandom(3))()));
});

Deno.test("shuffled: a seeded permutation that leaves its input alone", () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const out = shuffled(items, seededRandom(5));
  assert.deepEqual([...out].sort((a, b) => a - b), items);
  assert.notDeepEqual(out, items);
  assert.deepEqual(shuffled(items, seededRandom(5)), out);
  assert.equal(items[0], 0);
});

Deno.test("uniformArray: values in [-scale, scale), the same for the same seed", () => {
  const a = uniformArray(1000, 9, { scale: 3 });
  assert.ok(a.every((v) => v >= -3 && v < 3));
  assert.deepEqual(a, uniformArray(1000, 9, { scale: 3 }));
  assert.ok(Math.max(...a) > 2.5 && Math.min(...a) < -2.5);
});
