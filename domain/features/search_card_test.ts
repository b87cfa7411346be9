import assert from "node:assert/strict";
import { gaussianArray } from "../random.ts";
import { matrix } from "../sae/matrix.ts";
import { decoderNorm, lensExtremes, nearestFeatures } from "./search_card.ts";

Deno.test("nearest features match a brute-force cosine ranking", () => {
  const rows = 40, d = 7;
  const w = matrix([rows, d], gaussianArray(rows * d, 3));
  const rowOf = (f: number) => [...w.data.subarray(f * d, (f + 1) * d)];
  const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
  for (const feature of [0, 17, 39]) {
    const u = rowOf(feature);
    const brute = Array.from({ length: rows }, (_, f) => f).filter((f) => f !== feature)
      .map((f) => ({
        feature: f,
        cosine: dot(u, rowOf(f)) / Math.sqrt(dot(u, u) * dot(rowOf(f), rowOf(f))),
      }))
      .sort((a, b) => b.cosine - a.cosine).slice(0, 10);
    const got = nearestFeatures(w, feature, { top: 10 });
    assert.deepEqual(got.map((n) => n.feature), brute.map((n) => n.feature));
    got.forEach((n, i) => assert.ok(Math.abs(n.cosine - brute[i].cosine) < 1e-9));
    assert.ok(Math.abs(decoderNorm(w, feature) - Math.sqrt(dot(u, u))) < 1e-9);
  }
});

Deno.test("lens extremes: highest and lowest logits, ties by lower id", () => {
  const r = lensExtremes([0.5, 3, -2, 3, -2, 1], { top: 2, tokens: ["a", "b", "c", "d"] });
  assert.deepEqual(r.top.map((t) => t.id), [1, 3]);
  assert.deepEqual(r.bottom.map((t) => [t.id, t.token]), [[2, "c"], [4, "<4>"]]);
});
