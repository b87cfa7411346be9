/**
 * Probing methods side by side (Kantamneni et al. 2025): k-sparse SAE probes (latents ranked
 * by mean difference, logistic regression on the top k) beside honest baselines on the raw
 * activations (L2 logistic regression, PCA + logistic regression, KNN), each tuned by the same
 * validation scheme, with the "quiver of arrows" pick by validation AUC. Fitted probes are
 * plain JSON documents the caller keeps; `predictProbe` applies one.
 * @module
 */

import type { Cancellation } from "../cancellation.ts";

import { type Matrix, matrix, type SparseRows } from "../sae/matrix.ts";
import { knnProba } from "./knn.ts";
import { fitLogistic, type LogisticModel, predictProba } from "./logistic.ts";
import { fitPca, pcaTransform } from "./pca.ts";
import { rocAuc } from "./roc_auc.ts";
import { rankByMeanDifference } from "./selection.ts";
import { applyScaler, fitScaler, type Scaler } from "./standardize.ts";
import { type Fold, validationAuc } from "./validation.ts";

/** Method names. */
export const PROBE_METHODS = ["sae", "logistic", "pca", "knn"] as const;
/** One probe method's name. */
export type ProbeMethod = typeof PROBE_METHODS[number];

/** The paper's C grid: 10 log-spaced values in [1e-5, 1e5]. */
export const C_GRID: readonly number[] = Array.from(
  { length: 10 },
  (_, i) => 10 ** (-5 + (10 * i) / 9),
);

/** A fitted probe, as JSON. */
export type ProbeDocument =
  | { kind: "logistic"; scaler: JsonScaler; weights: number[]; intercept: number }
  | {
    kind: "pca";
    scaler: JsonScaler;
    mean: number[];
    components: number[][];
    weights: number[];
    intercept: number;
  }
  | { kind: "knn"; scaler: JsonScaler; k: number; x: number[][]; y: number[] }
  | {
    kind: "sae";
    dictionary: string | null;
    latents: number[];
    scaler: JsonScaler;
    weights: number[];
    intercept: number;
  };

/** A scaler as JSON. */
export interface JsonScaler {
  mean: number[];
  scale: number[];
}

/** One method's outcome. */
export interface MethodResult {
  readonly method: ProbeMethod;
  readonly k?: number;
  readonly valAuc: number;
  readonly testAuc?: number;
  readonly params: Record<string, number | string>;
  readonly latents?: { latent: number; weight: number }[];
  readonly probe: ProbeDocument;
}

/** Inputs of {@link trainProbes}. */
export interface ProbeData {
  readonly x: Matrix;
  readonly y: Uint8Array;
  readonly testX?: Matrix;
  readonly testY?: Uint8Array;
}

/** Options of {@link trainProbes}. */
export interface TrainProbesOptions {
  readonly methods: readonly ProbeMethod[];
  /** k values of the SAE probe. */
  readonly ks?: readonly number[];
  /** Encode rows with the dictionary (required for "sae"). */
  readonly encode?: (x: Matrix) => Promise<SparseRows>;
  readonly dictionary?: string;
  readonly penalty?: "l1" | "l2";
  /** Rank latents after dividing by their mean non-zero activation. */
  readonly normalizedSelection?: boolean;
  readonly seed?: number;
  /** Polled between fits: stop when the work is abandoned. */
  readonly signal?: Cancellation;
}

function rowsOf(x: Matrix, idx: number[]): Matrix {
  const out = matrix([idx.length, x.cols]);
  idx.forEach((r, t) => out.data.set(x.data.subarray(r * x.cols, (r + 1) * x.cols), t * x.cols));
  return out;
}

const labelsOf = (y: Uint8Array, idx: number[]) => Uint8Array.from(idx, (i) => y[i]);

function scalerJson(s: Scaler): JsonScaler {
  return { mean: Array.from(s.mean), scale: Array.from(s.scale) };
}

function scalerFrom(j: JsonScaler): Scaler {
  return { mean: Float64Array.from(j.mean), scale: Float64Array.from(j.scale) };
}

/** Logistic regression with C chosen by validation AUC (warm starts along the grid), refit on all rows. */
function tunedLogistic(
  x: Matrix,
  y: Uint8Array,
  options: {
    penalty: "l1" | "l2";
    seed: number;
    signal?: Cancellation;
    /** A fold's own training and validation features (default: rows of `x`). */
    folds?: (fold: Fold) => { train: Matrix; val: Matrix };
  },
): { model: LogisticModel; C: number; valAuc: number; scaler: Scaler } {
  let best = { C: C_GRID[0], auc: -Infinity };
  const warm = new Map<string, LogisticModel>();
  const split = options.folds ??
    ((fold: Fold) => ({ train: rowsOf(x, fold.train), val: rowsOf(x, fold.val) }));
  const splits = new Map<string, { train: Matrix; val: Matrix }>();
  for (const C of C_GRID) {
    const auc = validationAuc(y, (fold: Fold) => {
      const key = fold.val.join(",");
      if (!splits.has(key)) splits.set(key, split(fold));
      const { train, val } = splits.get(key)!;
      const scaler = fitScaler(train);
      const model = fitLogistic(
        applyScaler(scaler, train),
        labelsOf(y, fold.train),
        {
          penalty: options.penalty,
          C,
          warmStart: warm.get(key),
          tolerance: 1e-6,
          maxIterations: options.penalty === "l1" ? 5000 : undefined,
          signal: options.signal,
        },
      );
      warm.set(key, model);
      return predictProba(model, applyScaler(scaler, val));
    }, { seed: options.seed, signal: options.signal });
    if (auc > best.auc) best = { C, auc };
  }
  const scaler = fitScaler(x);
  const model = fitLogistic(applyScaler(scaler, x), y, {
    penalty: options.penalty,
    C: best.C,
    maxIterations: options.penalty === "l1" ? 5000 : undefined,
    signal: options.signal,
  });
  return { model, C: best.C, valAuc: best.auc, scaler };
}

/** The rows `idx` of sparse codes (views, not copies). */
function sparseRowsOf(codes: SparseRows, idx: readonly number[]): SparseRows {
  return {
    width: codes.width,
    indices: idx.map((i) => codes.indices[i]),
    values: idx.map((i) => codes.values[i]),
  };
}

/** Dense [n, k] matrix of the chosen latents' activations. */
function latentColumns(codes: SparseRows, latents: readonly number[]): Matrix {
  const at = new Map(latents.map((l, j) => [l, j]));
  const out = matrix([codes.indices.length, latents.length]);
  for (let r = 0; r < codes.indices.length; r++) {
    codes.indices[r].forEach((i, t) => {
      const j = at.get(i);
      if (j !== undefined) out.data[r * latents.length + j] = codes.values[r][t];
    });
  }
  return out;
}

/** Fit every requested method and pick the best by validation AUC. */
export async function trainProbes(
  data: ProbeData,
  options: TrainProbesOptions,
): Promise<{ methods: MethodResult[]; best: MethodResult }> {
  const { x, y } = data;
  const seed = options.seed ?? 0;
  const results: MethodResult[] = [];
  const test = (scores: () => ArrayLike<number>) =>
    data.testX && data.testY ? rocAuc(scores(), data.testY) : undefined;
  for (const method of options.methods) {
    options.signal?.throwIfAborted();
    if (method === "logistic") {
      const t = tunedLogistic(x, y, { penalty: "l2", seed, signal: options.signal });
      results.push({
        method,
        valAuc: t.valAuc,
        testAuc: test(() => predictProba(t.model, applyScaler(t.scaler, data.testX!))),
        params: { C: t.C, penalty: "l2" },
        probe: {
          kind: "logistic",
          scaler: scalerJson(t.scaler),
          weights: Array.from(t.model.weights),
          intercept: t.model.intercept,
        },
      });
    } else if (method === "pca") {
      const maxComponents = Math.min(x.rows - 1, x.cols, 100);
      let best: MethodResult | null = null;
      for (let c = 1; c <= maxComponents; c *= 2) {
        const fitOn = (rows: Matrix) => {
          const scaler = fitScaler(rows);
          const pca = fitPca(applyScaler(scaler, rows), { components: c, seed });
          return { scaler, pca };
        };
        const valAuc = validationAuc(y, (fold) => {
          const { scaler, pca } = fitOn(rowsOf(x, fold.train));
          const z = pcaTransform(pca, applyScaler(scaler, rowsOf(x, fold.train)));
          const model = fitLogistic(z, labelsOf(y, fold.train), {
            penalty: "l2",
            C: 1,
            signal: options.signal,
          });
          return predictProba(model, pcaTransform(pca, applyScaler(scaler, rowsOf(x, fold.val))));
        }, { seed, signal: options.signal });
        if (best && valAuc <= best.valAuc) continue;
        const { scaler, pca } = fitOn(x);
        const model = fitLogistic(pcaTransform(pca, applyScaler(scaler, x)), y, {
          penalty: "l2",
          C: 1,
          signal: options.signal,
        });
        best = {
          method,
          valAuc,
          testAuc: test(() =>
            predictProba(model, pcaTransform(pca, applyScaler(scaler, data.testX!)))
          ),
          params: { components: c, C: 1 },
          probe: {
            kind: "pca",
            scaler: scalerJson(scaler),
            mean: Array.from(pca.mean),
            components: pca.components.map((v) => Array.from(v)),
            weights: Array.from(model.weights),
            intercept: model.intercept,
          },
        };
      }
      if (best) results.push(best);
    } else if (method === "knn") {
      let best: MethodResult | null = null;
      for (let k = 1; k <= Math.min(x.rows - 1, 100); k = k < 5 ? k + 2 : k * 2) {
        const valAuc = validationAuc(y, (fold) => {
          const scaler = fitScaler(rowsOf(x, fold.train));
          return knnProba(
            { x: applyScaler(scaler, rowsOf(x, fold.train)), y: labelsOf(y, fold.train) },
            applyScaler(scaler, rowsOf(x, fold.val)),
            { k },
          );
        }, { seed, signal: options.signal });
        if (best && valAuc <= best.valAuc) continue;
        const scaler = fitScaler(x);
        const sx = applyScaler(scaler, x);
        best = {
          method,
          valAuc,
          testAuc: test(() => knnProba({ x: sx, y }, applyScaler(scaler, data.testX!), { k })),
          params: { k },
          probe: {
            kind: "knn",
            scaler: scalerJson(scaler),
            k,
            x: Array.from(
              { length: sx.rows },
              (_, r) => Array.from(sx.data.subarray(r * sx.cols, (r + 1) * sx.cols)),
            ),
            y: Array.from(y),
          },
        };
      }
      if (best) results.push(best);
    } else if (method === "sae") {
      if (!options.encode) throw new RangeError("the sae method needs a dictionary");
      const codes = await options.encode(x);
      const testCodes = data.testX ? await options.encode(data.testX) : null;
      const normalized = options.normalizedSelection;
      const ranking = rankByMeanDifference(codes, y, { normalized });
      // Validation repeats the selection inside each fold, on its training rows only: ranked on
      // every row first, the latents saw the validation labels (shuffled labels scored 0.88).
      const foldRankings = new Map<string, number[]>();
      const foldRanking = (fold: Fold): number[] => {
        const key = fold.val.join(",");
        if (!foldRankings.has(key)) {
          const train = sparseRowsOf(codes, fold.train);
          foldRankings.set(
            key,
            rankByMeanDifference(train, labelsOf(y, fold.train), { normalized }),
          );
        }
        return foldRankings.get(key)!;
      };
      for (const k of options.ks ?? [1, 2, 4, 8, 16]) {
        const latents = ranking.slice(0, Math.min(k, ranking.length));
        const features = latentColumns(codes, latents);
        const t = tunedLogistic(features, y, {
          penalty: options.penalty ?? "l2",
          seed,
          signal: options.signal,
          folds: (fold) => {
            const chosen = foldRanking(fold).slice(0, Math.min(k, ranking.length));
            return {
              train: latentColumns(sparseRowsOf(codes, fold.train), chosen),
              val: latentColumns(sparseRowsOf(codes, fold.val), chosen),
            };
          },
        });
        results.push({
          method,
          k,
          valAuc: t.valAuc,
          testAuc: testCodes
            ? rocAuc(
              predictProba(t.model, applyScaler(t.scaler, latentColumns(testCodes, latents))),
              data.testY!,
            )
            : undefined,
          params: { C: t.C, penalty: options.penalty ?? "l2" },
          latents: latents.map((latent, j) => ({
            latent,
            weight: t.model.weights[j] / t.scaler.scale[j],
          })),
          probe: {
            kind: "sae",
            dictionary: options.dictionary ?? null,
            latents,
            scaler: scalerJson(t.scaler),
            weights: Array.from(t.model.weights),
            intercept: t.model.intercept,
          },
        });
      }
    }
  }
  if (results.length === 0) throw new RangeError("no method was fitted");
  const best = results.reduce((a, b) => (b.valAuc > a.valAuc ? b : a));
  return { methods: results, best };
}

/** P(y = 1) of each row of `x` under a probe document. */
export async function predictProbe(
  probe: ProbeDocument,
  x: Matrix,
  options?: { encode?: (x: Matrix) => Promise<SparseRows>; signal?: Cancellation },
): Promise<Float64Array> {
  const scaler = scalerFrom(probe.scaler);
  const model = (w: number[], b: number): LogisticModel => ({
    weights: Float64Array.from(w),
    intercept: b,
  });
  switch (probe.kind) {
    case "logistic":
      return predictProba(model(probe.weights, probe.intercept), applyScaler(scaler, x));
    case "pca": {
      const pca = {
        mean: Float64Array.from(probe.mean),
        components: probe.components.map((c) => Float64Array.from(c)),
        explainedVariance: [],
        explainedVarianceRatio: [],
      };
      return predictProba(
        model(probe.weights, probe.intercept),
        pcaTransform(pca, applyScaler(scaler, x)),
      );
    }
    case "knn": {
      const d = probe.x[0]?.length ?? 0;
      const train = matrix([probe.x.length, d], Float32Array.from(probe.x.flat()));
      return knnProba({ x: train, y: probe.y }, applyScaler(scaler, x), {
        k: probe.k,
        signal: options?.signal,
      });
    }
    case "sae": {
      if (!options?.encode) throw new RangeError("an sae probe needs its dictionary to predict");
      const codes = await options.encode(x);
      return predictProba(
        model(probe.weights, probe.intercept),
        applyScaler(scaler, latentColumns(codes, probe.latents)),
      );
    }
  }
}
