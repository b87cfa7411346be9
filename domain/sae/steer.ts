/**
 * Error-preserving steering in the dictionary's latent space. Codes f = encode(x) are edited in
 * order (add, clamp, scale, ablate) on the chosen rows into f'; the output is
 *   x' = x + L_r((f' - f) @ W_dec)
 * where L_r is the linear part of row r's output normalization, so the SAE error term and the
 * decoder bias are untouched and normalization is mapped back exactly.
 * @module
 */

import type { CallOptions } from "../../backends/backend.ts";
import { SaeError } from "../errors.ts";
import type { Matrix, SparseRows } from "./matrix.ts";
import { normalizeIn, rowStatistics } from "./normalization.ts";
import { expectWidth, type OnBackend } from "./sae.ts";
/** Steering modes: four edits of latent codes (api.md) and two projections in activation space. */
export const STEER_MODES = ["add", "clamp", "scale", "ablate", "orthogonal", "cap"] as const;

/** Modes that edit latent codes (the others act on the activation along the feature's direction). */
const LATENT_MODES: readonly string[] = ["add", "clamp", "scale", "ablate"];

/** A condition on another latent's (unedited) activation in the same row. */
export interface SteerCondition {
  readonly feature: number;
  readonly op: ">" | "<";
  readonly value: number;
}

/** One edit of one latent. */
export interface Intervention {
  readonly feature: number;
  readonly mode: typeof STEER_MODES[number];
  /** Required by every mode but "ablate", which ignores it. */
  readonly value?: number;
  /** Rows to edit; every row when absent. */
  readonly positions?: readonly number[];
  /**
   * "activation" (default): value in units of the latent's activation. "norm": value along the
   * unit-norm decoder direction (Neuronpedia's convention) for add and clamp.
   */
  readonly unit?: "activation" | "norm";
  /** Scale value by the row's largest latent activation (f_i += s * max_j f_j). */
  readonly relative?: boolean;
  /** Steer only rows where this condition holds (Goodfire's conditional edits). */
  readonly when?: SteerCondition;
}

/** Throw a 422-kind error for an out-of-range feature or position or a non-finite value. */
export function checkInterventions(
  interventions: readonly Intervention[],
  shape: { rows: number; dSae: number },
): void {
  const feature = (f: number, n: number, what: string) => {
    if (!Number.isInteger(f) || f < 0 || f >= shape.dSae) {
      throw new SaeError("invalid", `interventions[${n}]: ${what} ${f} outside [0, ${shape.dSae})`);
    }
  };
  interventions.forEach((iv, n) => {
    feature(iv.feature, n, "feature");
    if (!STEER_MODES.includes(iv.mode)) {
      throw new SaeError("invalid", `interventions[${n}]: unknown mode ${JSON.stringify(iv.mode)}`);
    }
    if (iv.mode !== "ablate" && iv.value === undefined) {
      throw new SaeError(
        "malformed",
        `interventions[${n}]: mode ${iv.mode} needs a value (only ablate takes none)`,
      );
    }
    if (iv.mode !== "ablate" && !Number.isFinite(iv.value)) {
      throw new SaeError("invalid", `interventions[${n}]: value must be a finite number`);
    }
    if (iv.mode === "ablate" && iv.value !== undefined && iv.value !== 0) {
      throw new SaeError(
        "invalid",
        `interventions[${n}]: ablate sets the latent to 0 and takes no value (got ${iv.value}); ` +
          "use clamp to set another value",
      );
    }
    if (!Number.isFinite(Math.fround(iv.value ?? 0))) {
      throw new SaeError(
        "invalid",
        `interventions[${n}].value ${iv.value} overflows f32 (largest magnitude about 3.4e38)`,
      );
    }
    if (iv.when) {
      feature(iv.when.feature, n, "when.feature");
      if (!Number.isFinite(iv.when.value)) {
        throw new SaeError("invalid", `interventions[${n}]: when.value must be finite`);
      }
    }
    for (const p of iv.positions ?? []) {
      if (!Number.isInteger(p) || p < 0 || p >= shape.rows) {
        throw new SaeError(
          "invalid",
          `interventions[${n}]: position ${p} outside [0, ${shape.rows})`,
        );
      }
    }
  });
}

/** The latent activation of `feature` in row `r` of sparse codes (0 when not listed). */
function activationOf(codes: SparseRows, r: number, feature: number): number {
  const at = codes.indices[r].indexOf(feature);
  return at >= 0 ? codes.values[r][at] : 0;
}

/** Whether intervention `iv` applies to row `r` (positions and condition). */
function applies(iv: Intervention, r: number, codes: SparseRows | null): boolean {
  if (iv.positions && !iv.positions.includes(r)) return false;
  if (!iv.when) return true;
  const f = activationOf(codes!, r, iv.when.feature);
  return iv.when.op === ">" ? f > iv.when.value : f < iv.when.value;
}

/** Whether steering needs the encoded codes of the rows. */
export function needsCodes(interventions: readonly Intervention[]): boolean {
  return interventions.some((iv) =>
    (LATENT_MODES.includes(iv.mode) && iv.mode !== "add") || iv.relative || iv.when
  );
}

/** Apply one edit to a latent's value. */
function edit(mode: Intervention["mode"], current: number, value: number): number {
  switch (mode) {
    case "add":
      return current + value;
    case "clamp":
      return value;
    case "scale":
      return current * value;
    default:
      return 0; // ablate
  }
}

/**
 * The sparse latent deltas f' - f of each row from the latent-space interventions, in order.
 * `codes` are the rows' encoded codes (needed when some edit reads the current value, is
 * relative or conditional); `decoderNorms` the norms ||W_dec[i]|| by feature, for unit "norm".
 */
export function steeringDeltas(
  interventions: readonly Intervention[],
  rows: number,
  options: { codes: SparseRows | null; decoderNorms?: Map<number, number> },
): SparseRows {
  const { codes } = options;
  const indices: Int32Array[] = [];
  const values: Float32Array[] = [];
  for (let r = 0; r < rows; r++) {
    const original = new Map<number, number>();
    const edited = new Map<number, number>();
    const current = (feature: number): number => {
      if (edited.has(feature)) return edited.get(feature)!;
      if (!original.has(feature)) {
        original.set(feature, codes ? activationOf(codes, r, feature) : 0);
      }
      return original.get(feature)!;
    };
    const rowMax = codes && codes.values[r].length ? Math.max(0, ...codes.values[r]) : 0;
    for (const iv of interventions) {
      if (!LATENT_MODES.includes(iv.mode) || !applies(iv, r, codes)) continue;
      let value = (iv.value ?? 0) * (iv.relative ? rowMax : 1);
      if (iv.unit === "norm" && (iv.mode === "add" || iv.mode === "clamp")) {
        const norm = options.decoderNorms?.get(iv.feature) ?? 0;
        value = norm > 0 ? value / norm : 0;
      }
      edited.set(iv.feature, edit(iv.mode, current(iv.feature), value));
    }
    const ix: number[] = [];
    const v: number[] = [];
    for (const [feature, value] of edited) {
      const delta = value - original.get(feature)!;
      if (delta !== 0) {
        ix.push(feature);
        v.push(delta);
      }
    }
    indices.push(Int32Array.from(ix));
    values.push(Float32Array.from(v));
  }
  return { width: codes?.width ?? 0, indices, values };
}

/**
 * Projection edits along u = W_dec[i] / ||W_dec[i]||, in place on rows of `x`:
 * orthogonal x - (x.u) u + value u; cap x - max(0, x.u - value) u.
 */
export function applyProjections(
  x: Matrix,
  interventions: readonly Intervention[],
  options: { codes: SparseRows | null; directions: Map<number, Float32Array> },
): void {
  for (const iv of interventions) {
    if (LATENT_MODES.includes(iv.mode)) continue;
    const u = options.directions.get(iv.feature)!;
    for (let r = 0; r < x.rows; r++) {
      if (!applies(iv, r, options.codes)) continue;
      const row = x.data.subarray(r * x.cols, (r + 1) * x.cols);
      let dot = 0;
      for (let c = 0; c < x.cols; c++) dot += row[c] * u[c];
      const value = (iv.value ?? 0) *
        (iv.relative && options.codes ? Math.max(0, ...options.codes.values[r]) : 1);
      const shift = iv.mode === "orthogonal" ? value - dot : -Math.max(0, dot - value);
      for (let c = 0; c < x.cols; c++) row[c] += shift * u[c];
    }
  }
}

/** Unit decoder directions and norms of `features` (decoder rows without bias, via the backend). */
export async function decoderDirections(
  { backend, prepared }: OnBackend,
  features: readonly number[],
  options?: CallOptions,
): Promise<{ directions: Map<number, Float32Array>; norms: Map<number, number> }> {
  const unique = [...new Set(features)];
  const rows = await backend.decodeSparse(prepared, {
    width: prepared.weights.dSae,
    indices: unique.map((f) => Int32Array.of(f)),
    values: unique.map(() => Float32Array.of(1)),
  }, { ...options, bias: false });
  const directions = new Map<number, Float32Array>();
  const norms = new Map<number, number>();
  unique.forEach((f, n) => {
    const v = rows.data.slice(n * rows.cols, (n + 1) * rows.cols);
    let sq = 0;
    for (const e of v) sq += e * e;
    const norm = Math.sqrt(sq);
    norms.set(f, norm);
    directions.set(f, norm > 0 ? v.map((e) => e / norm) : v);
  });
  return { directions, norms };
}

/** Options of {@link steerRows}. */
export interface SteerRowsOptions extends CallOptions {
  /** Applied in order. */
  readonly interventions: readonly Intervention[];
}

/** Steer raw activations x [rows, d_in] with `options.interventions` applied in order. */
export async function steerRows(
  on: OnBackend,
  x: Matrix,
  options: SteerRowsOptions,
): Promise<Matrix> {
  const { backend, prepared } = on;
  const { interventions, ...call } = options;
  const w = prepared.weights;
  expectWidth(x, w.dIn);
  checkInterventions(interventions, { rows: x.rows, dSae: w.dSae });
  const stats = rowStatistics(w.normalization, x);
  const codes = needsCodes(interventions)
    ? await backend.encode(prepared, normalizeIn(stats, x, { preBias: w.preBias }), call)
    : null;
  const geometric = interventions.filter((iv) =>
    iv.unit === "norm" || !LATENT_MODES.includes(iv.mode)
  );
  const { directions, norms } = geometric.length
    ? await decoderDirections(on, geometric.map((iv) => iv.feature), call)
    : { directions: new Map(), norms: new Map() };
  const deltas = steeringDeltas(interventions, x.rows, { codes, decoderNorms: norms });
  const out = await backend.steer(prepared, x, { ...deltas, width: w.dSae }, {
    ...call,
    rowScale: stats.outScale,
  });
  applyProjections(out, interventions, { codes, directions });
  return out;
}
