/**
 * Error-preserving steering in the dictionary's latent space. Codes f = encode(x) are edited in
 * order (add, clamp, scale, ablate) on the chosen rows into f'; the output is
 *   x' = x + L_r((f' - f) @ W_dec)
 * where L_r is the linear part of row r's output normalization, so the SAE error term and the
 * decoder bias are untouched and normalization is mapped back exactly.
 * @module
 */

import type { Backend, Prepared } from "./backend.ts";
import { SaeError } from "./errors.ts";
import type { Matrix, SparseRows } from "./matrix.ts";
import { normalizeIn, rowStatistics } from "./normalization.ts";
import { expectWidth } from "./sae.ts";

/** Steering modes (api.md). */
export const STEER_MODES = ["add", "clamp", "scale", "ablate"] as const;

/** One edit of one latent. */
export interface Intervention {
  readonly feature: number;
  readonly mode: typeof STEER_MODES[number];
  /** Ignored by "ablate". */
  readonly value: number;
  /** Rows to edit; every row when absent. */
  readonly positions?: readonly number[];
}

/** Throw a 422-kind error for an out-of-range feature or position or a non-finite value. */
export function checkInterventions(
  interventions: readonly Intervention[],
  shape: { rows: number; dSae: number },
): void {
  interventions.forEach((iv, n) => {
    if (!Number.isInteger(iv.feature) || iv.feature < 0 || iv.feature >= shape.dSae) {
      throw new SaeError(
        "invalid",
        `interventions[${n}]: feature ${iv.feature} outside [0, ${shape.dSae})`,
      );
    }
    if (!STEER_MODES.includes(iv.mode)) {
      throw new SaeError("invalid", `interventions[${n}]: unknown mode ${JSON.stringify(iv.mode)}`);
    }
    if (iv.mode !== "ablate" && !Number.isFinite(iv.value)) {
      throw new SaeError("invalid", `interventions[${n}]: value must be a finite number`);
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

/** Apply one edit to a latent's value. */
function edit(mode: Intervention["mode"], current: number, value: number): number {
  switch (mode) {
    case "add":
      return current + value;
    case "clamp":
      return value;
    case "scale":
      return current * value;
    case "ablate":
      return 0;
  }
}

/**
 * The sparse latent deltas f' - f of each row. `codes` are the row's encoded codes (only needed
 * when some edit reads the current value: every mode but "add").
 */
export function steeringDeltas(
  interventions: readonly Intervention[],
  rows: number,
  codes: SparseRows | null,
): SparseRows {
  const indices: Int32Array[] = [];
  const values: Float32Array[] = [];
  const applies = interventions.map((iv) => iv.positions ? new Set(iv.positions) : null);
  for (let r = 0; r < rows; r++) {
    const original = new Map<number, number>();
    const edited = new Map<number, number>();
    const current = (feature: number): number => {
      if (edited.has(feature)) return edited.get(feature)!;
      if (!original.has(feature)) {
        const at = codes ? codes.indices[r].indexOf(feature) : -1;
        original.set(feature, at >= 0 ? codes!.values[r][at] : 0);
      }
      return original.get(feature)!;
    };
    interventions.forEach((iv, n) => {
      if (applies[n] && !applies[n]!.has(r)) return;
      edited.set(iv.feature, edit(iv.mode, current(iv.feature), iv.value));
    });
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

/** Steer raw activations x [rows, d_in] with `interventions` applied in order. */
export async function steerRows(
  backend: Backend,
  prepared: Prepared,
  x: Matrix,
  interventions: readonly Intervention[],
): Promise<Matrix> {
  const w = prepared.weights;
  expectWidth(x, w.dIn);
  checkInterventions(interventions, { rows: x.rows, dSae: w.dSae });
  const stats = rowStatistics(w.normalization, x);
  const needCodes = interventions.some((iv) => iv.mode !== "add");
  const codes = needCodes ? await backend.encode(prepared, normalizeIn(stats, x, w.preBias)) : null;
  const deltas = steeringDeltas(interventions, x.rows, codes);
  return await backend.steer(prepared, x, { ...deltas, width: w.dSae }, {
    rowScale: stats.outScale,
  });
}
