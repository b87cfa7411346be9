/**
 * Contrast ranking and nearest features against the numpy reference
 * (tests/fixtures/make_search_fixtures.py, tests/fixtures/expected/search/search.json), on the codes
 * and decoder rows of the saelens_standard fixture dictionary.
 * @module
 */

import assert from "node:assert/strict";
import { assertClose } from "../../tests/conformance.ts";
import { matrix, type SparseRows } from "../sae/matrix.ts";
import { decoderNorm, nearestFeatures } from "./search_card.ts";
import { contrastFeatures, meanCodes } from "./search_contrast.ts";

const FX = JSON.parse(Deno.readTextFileSync(
  new URL("../../tests/fixtures/expected/search/search.json", import.meta.url),
));
const TOL = 1e-6;

interface Hit {
  feature: number;
  positive_mean: number;
  negative_mean: number;
  difference: number;
}

/** Dense numpy codes [rows, width] as the sparse rows encode returns (f32 values). */
function sparse(dense: number[][]): SparseRows {
  const indices: Int32Array[] = [];
  const values: Float32Array[] = [];
  for (const row of dense) {
    const live = row.flatMap((v, f) => v !== 0 ? [f] : []);
    indices.push(Int32Array.from(live));
    values.push(Float32Array.from(live.map((f) => row[f])));
  }
  return { width: dense[0].length, indices, values };
}

function assertHits(got: readonly Hit[], want: readonly Hit[], what: string): void {
  assert.deepEqual(got.map((h) => h.feature), want.map((h) => h.feature), `${what}: order`);
  for (const key of ["positive_mean", "negative_mean", "difference"] as const) {
    assertClose(got.map((h) => h[key]), want.map((h) => h[key]), {
      tol: TOL,
      what: `${what} ${key}`,
    });
  }
}

Deno.test("contrast ranking matches numpy: both sides, full and cut to top", () => {
  const c = FX.contrast;
  const positive = sparse(c.positive_codes);
  const negative = sparse(c.negative_codes);
  const width = positive.width;
  const wantMean = (dense: number[][]) =>
    Array.from({ length: width }, (_, f) => dense.reduce((s, r) => s + r[f], 0) / dense.length);
  assertClose(meanCodes(positive), wantMean(c.positive_codes), {
    tol: TOL,
    what: "positive means",
  });
  assertClose(meanCodes(negative), wantMean(c.negative_codes), {
    tol: TOL,
    what: "negative means",
  });

  const snake = (h: ReturnType<typeof contrastFeatures>["positive"][number]): Hit => ({
    feature: h.feature,
    positive_mean: h.positiveMean,
    negative_mean: h.negativeMean,
    difference: h.difference,
  });
  const all = contrastFeatures(positive, negative, { top: width, both: true });
  assertHits(all.positive.map(snake), c.ranking.positive, "positive");
  assertHits(all.negative.map(snake), c.ranking.negative, "negative");

  const three = contrastFeatures(positive, negative, { top: 3 });
  assertHits(three.positive.map(snake), c.ranking.positive.slice(0, 3), "top 3");
  assert.deepEqual(three.negative, []);
});

Deno.test("decoder norms and nearest features match numpy", () => {
  const rows: number[][] = FX.w_dec.saelens_standard;
  const w = matrix([rows.length, rows[0].length], Float32Array.from(rows.flat()));
  for (const want of FX.cards.saelens_standard) {
    const what = `feature ${want.feature}`;
    assertClose([decoderNorm(w, want.feature)], [want.decoder_norm], {
      tol: TOL,
      what: `${what} norm`,
    });
    const got = nearestFeatures(w, want.feature, { top: 10 });
    assert.deepEqual(
      got.map((n) => n.feature),
      want.nearest.map((n: { feature: number }) => n.feature),
      `${what}: nearest`,
    );
    assertClose(got.map((n) => n.cosine), want.nearest.map((n: { cosine: number }) => n.cosine), {
      tol: TOL,
      what: `${what} cosine`,
    });
  }
});
