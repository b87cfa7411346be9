/**
 * The validation schemes of Kantamneni et al. (2025): leave-2-out when n <= 12 (one positive
 * and one negative held out per fold), stratified 6-fold when n < 128, otherwise one stratified
 * hold-out of min(20%, 100) rows. The score is the ROC AUC of the held-out predictions (pooled
 * across folds; for leave-2-out, the share of correctly ordered held-out pairs).
 * @module
 */

import type { Cancellation } from "../cancellation.ts";

import { seededRandom, shuffled } from "../random.ts";
import { rocAuc } from "./roc_auc.ts";

/** One fold: training and validation row indices. */
export interface Fold {
  readonly train: number[];
  readonly val: number[];
}

/** The scheme's name for `n` rows. */
export function schemeFor(n: number): "leave-2-out" | "6-fold" | "hold-out" {
  return n <= 12 ? "leave-2-out" : n < 128 ? "6-fold" : "hold-out";
}

/** Folds for labels `y` under the paper's scheme. */
export function validationFolds(y: ArrayLike<number>, options?: { seed?: number }): Fold[] {
  const n = y.length;
  const rand = seededRandom(options?.seed ?? 0);
  const all = Array.from({ length: n }, (_, i) => i);
  const pos = shuffled(all.filter((i) => y[i] === 1), rand);
  const neg = shuffled(all.filter((i) => y[i] !== 1), rand);
  const scheme = schemeFor(n);
  if (scheme === "leave-2-out") {
    const folds: Fold[] = [];
    for (const p of pos) {
      for (const q of neg) {
        folds.push({
          val: [p, q],
          train: all.filter((i) => i !== p && i !== q),
        });
      }
    }
    return folds;
  }
  if (scheme === "6-fold") {
    const k = Math.min(6, pos.length, neg.length);
    const groups: number[][] = Array.from({ length: k }, () => []);
    pos.forEach((i, t) => groups[t % k].push(i));
    neg.forEach((i, t) => groups[t % k].push(i));
    return groups.map((val) => ({ val, train: all.filter((i) => !val.includes(i)) }));
  }
  const size = Math.min(Math.round(0.2 * n), 100);
  const nPos = Math.max(1, Math.round((size * pos.length) / n));
  const val = [...pos.slice(0, nPos), ...neg.slice(0, Math.max(1, size - nPos))];
  const held = new Set(val);
  return [{ val, train: all.filter((i) => !held.has(i)) }];
}

/** Validation AUC of a model fitted per fold: `fit(train)` returns scores for `val`. */
export function validationAuc(
  y: ArrayLike<number>,
  fit: (fold: Fold) => ArrayLike<number>,
  options?: { seed?: number; signal?: Cancellation },
): number {
  const folds = validationFolds(y, options);
  if (schemeFor(y.length) === "leave-2-out") {
    let sum = 0;
    for (const fold of folds) {
      options?.signal?.throwIfAborted();
      const s = fit(fold);
      sum += s[0] > s[1] ? 1 : s[0] === s[1] ? 0.5 : 0;
    }
    return folds.length ? sum / folds.length : NaN;
  }
  const scores: number[] = [];
  const labels: number[] = [];
  for (const fold of folds) {
    options?.signal?.throwIfAborted();
    const s = fit(fold);
    fold.val.forEach((i, t) => {
      scores.push(s[t]);
      labels.push(y[i]);
    });
  }
  return rocAuc(scores, labels);
}
