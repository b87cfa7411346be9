/**
 * Steering interventions as the API's JSON objects, with small constructors.
 * @module
 */

/** Steering modes of POST /v1/dictionaries/{id}/steer (checked against /openapi.json). */
export const STEER_MODES = [
  "add",
  "clamp",
  "scale",
  "ablate",
  "orthogonal",
  "cap",
] as const;

/** One intervention exactly as the API takes it. */
export interface Intervention {
  /** Latent index in [0, d_sae). */
  feature: number;
  mode: typeof STEER_MODES[number];
  /** Ignored by ablate. */
  value?: number;
  /** Rows to steer (default all). */
  positions?: number[];
  /** activation (default): per unit of latent activation; norm: along the unit direction. */
  unit?: "activation" | "norm";
  /** Scale value by the row's largest latent activation. */
  relative?: boolean;
  /** Steer only rows where latent `feature`'s activation satisfies `op value`. */
  when?: { feature: number; op: ">" | "<"; value: number };
}

function make(
  mode: Intervention["mode"],
  feature: number,
  value: number,
  positions?: number[],
): Intervention {
  return positions ? { feature, mode, value, positions } : { feature, mode, value };
}

/** Set latent `feature` to `value` (on `positions`, every row by default). */
export function clamp(
  feature: number,
  value: number,
  options: { positions?: number[] } = {},
): Intervention {
  const { positions } = options;
  return make("clamp", feature, value, positions);
}

/** Add `value` to latent `feature`: x' = x + value * W_dec[feature] (on `positions`, or all). */
export function add(
  feature: number,
  value: number,
  options: { positions?: number[] } = {},
): Intervention {
  const { positions } = options;
  return make("add", feature, value, positions);
}

/** Multiply latent `feature` by `factor` (on `positions`, every row by default). */
export function scale(
  feature: number,
  factor: number,
  options: { positions?: number[] } = {},
): Intervention {
  const { positions } = options;
  return make("scale", feature, factor, positions);
}

/** Set latent `feature` to zero (on `positions`, every row by default). */
export function ablate(feature: number, options: { positions?: number[] } = {}): Intervention {
  return make("ablate", feature, 0, options.positions);
}
