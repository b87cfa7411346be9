/**
 * Binary logistic regression with scikit-learn's objective: L2 minimizes
 * 0.5 ||w||^2 + C sum_i log(1 + exp(-s_i (x_i.w + b))), L1 minimizes ||w||_1 + C sum_i (same),
 * s_i = +-1, intercept never penalized. Up to {@link NEWTON_MAX_FEATURES} features both run
 * Newton-type solvers (L1: proximal Newton with coordinate descent on each quadratic model);
 * beyond, L-BFGS (L2) and accelerated proximal gradient with restarts (L1). All accept warm
 * starts (C grids).
 * @module
 */

import type { Matrix } from "../sae/matrix.ts";
import { fitL1, fitL1Newton } from "./logistic_l1.ts";
import { fitL2Lbfgs, fitL2Newton } from "./logistic_l2.ts";
import {
  type LogisticModel,
  type LogisticOptions,
  margins,
  sigmoid,
} from "./logistic_objective.ts";

export type { LogisticModel, LogisticOptions } from "./logistic_objective.ts";

/**
 * Most features fitted by the Newton-type solvers. With as many rows as features or fewer the
 * problem is near separable and first-order methods crawl: at 400 x 300 one L-BFGS fit took
 * 57-73 s and one proximal-gradient (L1) fit 135-144 s, against 0.3-1.5 s (L2) and 0.2-0.7 s
 * (L1) by Newton (2026-11-27); at 768 features a Newton fit took 3 s.
 */
export const NEWTON_MAX_FEATURES = 1024;

/** Fit a logistic regression on rows `x` [n, d] and 0/1 labels `y`. */
export function fitLogistic(
  x: Matrix,
  y: ArrayLike<number>,
  options: LogisticOptions,
): LogisticModel {
  if (options.penalty === "l1") {
    return x.cols <= NEWTON_MAX_FEATURES ? fitL1Newton(x, y, options) : fitL1(x, y, options);
  }
  return x.cols <= NEWTON_MAX_FEATURES ? fitL2Newton(x, y, options) : fitL2Lbfgs(x, y, options);
}

/** P(y = 1) for each row of `x`. */
export function predictProba(model: LogisticModel, x: Matrix): Float64Array {
  return margins(x, model).map(sigmoid);
}
