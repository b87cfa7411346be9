/**
 * Logistic regression (L1 and L2), ROC AUC, PCA and KNN against scikit-learn 1.2.1 on fixtures
 * written by tests/fixtures/make_probe_fixtures.py (run with /usr/bin/python3).
 * @module
 */

import assert from "node:assert/strict";
import { matrix } from "../sae/matrix.ts";
import { knnProba } from "./knn.ts";
import { fitLogistic, predictProba } from "./logistic.ts";
import { fitPca, pcaTransform } from "./pca.ts";
import { rocAuc } from "./roc_auc.ts";
import { applyScaler, fitScaler } from "./standardize.ts";

const FIXTURE = JSON.parse(
  Deno.readTextFileSync(
    new URL("../../tests/fixtures/expected/probe/sklearn.json", import.meta.url),
  ),
);
const asMatrix = (rows: number[][]) =>
  matrix([rows.length, rows[0].length], Float32Array.from(rows.flat()));

function close(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rel: number,
  what: string,
  abs = 1e-6,
): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    assert.ok(
      Math.abs(actual[i] - e) <= Math.max(rel * Math.abs(e), abs),
      `${what}[${i}]: ${actual[i]} vs ${e}`,
    );
  }
}

for (const c of FIXTURE.logistic) {
  Deno.test(`sklearn: logistic ${c.name} (${c.penalty}, C=${c.C}) coefficients within 1e-3 relative`, () => {
    const x = asMatrix(c.x);
    const model = fitLogistic(x, c.y, {
      penalty: c.penalty,
      C: c.C,
      tolerance: 1e-10,
    });
    // Coefficients sklearn drives to exactly zero (L1) are compared absolutely.
    close(model.weights, c.coef, 1e-3, `${c.name} coef`, 1e-5);
    close([model.intercept], [c.intercept], 1e-3, `${c.name} intercept`, 1e-5);
    close(predictProba(model, asMatrix(c.x_test)), c.proba_test, 1e-3, `${c.name} proba`, 1e-6);
  });
}

Deno.test("sklearn: ROC AUC equals roc_auc_score exactly (ties included)", () => {
  for (const c of FIXTURE.roc_auc) {
    assert.equal(rocAuc(c.scores, c.labels), c.auc, JSON.stringify(c).slice(0, 60));
  }
});

for (const [n, c] of FIXTURE.pca.entries()) {
  Deno.test(`sklearn: PCA case ${n}: scaler, components (sign-normalized), variances and projections`, () => {
    const x = asMatrix(c.x);
    const scaler = fitScaler(x);
    close(scaler.mean, c.mean, 1e-6, "mean");
    close(scaler.scale, c.scale, 1e-6, "scale");
    const z = c.standardize ? applyScaler(scaler, x) : x;
    const pca = fitPca(z, { components: c.n_components });
    c.components_sign_normalized.forEach((row: number[], k: number) =>
      close(pca.components[k], row, 1e-4, `component ${k}`, 1e-6)
    );
    close(pca.explainedVariance, c.explained_variance, 1e-5, "explained variance");
    close(pca.explainedVarianceRatio, c.explained_variance_ratio, 1e-5, "explained variance ratio");
    // Projections agree up to each component's sign.
    const t = pcaTransform(pca, z);
    c.transformed.forEach((row: number[], r: number) =>
      row.forEach((v: number, k: number) => {
        const sign = Math.sign(
          pca.components[k].reduce((s, e, j) => s + e * c.components[k][j], 0),
        );
        assert.ok(
          Math.abs(t.data[r * c.n_components + k] - sign * v) < 1e-4,
          `projection ${r},${k}`,
        );
      })
    );
  });
}

Deno.test("sklearn: KNN probabilities equal KNeighborsClassifier(5)", () => {
  const c = FIXTURE.knn;
  const p = knnProba({ x: asMatrix(c.x_train), y: c.y_train }, asMatrix(c.x_test), { k: c.k });
  close(p, c.proba, 0, "knn proba", 1e-12);
});
