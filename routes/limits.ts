/**
 * Cost checks shared by the routes: a handler estimates its request's cost (`domain/cost.ts`)
 * after validation and before any work, and refuses what exceeds the service's budgets with a
 * 413 whose detail names the limit and the variable that sets it; options outside what the
 * dictionary has (`top` > d_sae, a position past the rows) are a 422.
 * @module
 */

import { DEFAULT_LIMITS, LIMIT_ENV, type Limits } from "../domain/cost.ts";
import { SaeError } from "../domain/errors.ts";
import type { AppDeps } from "./deps.ts";

/** The service's budgets: `deps.limits` over the defaults. */
export function limitsOf(deps: Pick<AppDeps, "limits">): Limits {
  const out: Record<string, number> = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(deps.limits ?? {})) {
    if (typeof value === "number" && value > 0) out[key] = value;
  }
  return out as unknown as Limits;
}

function readable(n: number): string {
  return n >= 1e6 ? n.toExponential(2).replace("e+", "e") : String(Math.ceil(n));
}

/**
 * 413 unless `estimate` fits the budget `limit`. `what` names the estimated quantity ("the
 * encode work"); `hint` says how to shrink the request.
 */
export function withinBudget(
  limits: Limits,
  limit: keyof Limits,
  options: { estimate: number; what: string; hint?: string },
): void {
  const max = limits[limit];
  if (options.estimate <= max) return;
  const env = LIMIT_ENV[limit];
  const size = (n: number) =>
    n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${Math.ceil(n)} bytes`;
  const amount = limit === "maxAnswerBytes"
    ? `${size(options.estimate)}, over the limit of ${size(max)}`
    : `${readable(options.estimate)} ${
      limit === "maxImagePixels" ? "pixels" : "work units"
    }, over the limit of ${readable(max)}`;
  throw new SaeError(
    "too_large",
    `${options.what} is estimated at ${amount} (${env})${options.hint ? `: ${options.hint}` : ""}`,
    { info: { limit: env, limit_value: max, estimate: Math.ceil(options.estimate) } },
  );
}

/**
 * The distinct entries of `values` in first-seen order; 422 unless each is an integer in
 * [0, bound). `boundName` names the bound in the detail ("d_sae", "rows").
 */
export function uniqueIndices(
  values: readonly number[],
  options: { bound: number; boundName: string; what: string },
): number[] {
  const unique = [...new Set(values)];
  for (const v of unique) {
    if (!Number.isInteger(v) || v < 0 || v >= options.bound) {
      throw new SaeError(
        "invalid",
        `${options.what} ${v} is outside [0, ${options.bound}) (${options.boundName} ${options.bound})`,
      );
    }
  }
  return unique;
}

/** 422 unless `top` (when given) is at most `bound`, which `boundName` names ("d_sae"). */
export function checkTop(
  top: number | undefined,
  options: { bound: number; boundName: string; what?: string },
): void {
  if (top === undefined || top <= options.bound) return;
  throw new SaeError(
    "invalid",
    `${options.what ?? "top"} ${top} is larger than ${options.boundName} (${options.bound})`,
  );
}
