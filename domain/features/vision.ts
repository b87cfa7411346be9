/**
 * Vision-model activations as patch grids (Stevens et al. 2025): rows are images x tokens,
 * where each image contributes `skip` leading tokens (CLS, registers) and then h x w patches in
 * row-major order. Per-image feature maps, patch selections for spatial interventions, and the
 * semantic probe (F1 of "feature fires somewhere in the image" against image labels).
 * @module
 */

import { SaeError } from "../errors.ts";
import type { SparseRows } from "../sae/matrix.ts";

/** A patch grid. */
export interface Grid {
  readonly h: number;
  readonly w: number;
  /** Leading non-patch tokens per image. */
  readonly skip: number;
}

/** Tokens per image. */
export function tokensPerImage(grid: Grid): number {
  return grid.skip + grid.h * grid.w;
}

/** Number of images in `rows` activation rows; 422 unless it divides evenly. */
export function imageCount(rows: number, grid: Grid): number {
  const per = tokensPerImage(grid);
  if (!(grid.h >= 1 && grid.w >= 1 && grid.skip >= 0) || rows % per !== 0) {
    throw new SaeError(
      "invalid",
      `${rows} activation rows are not a whole number of images of ${grid.skip} + ${grid.h} x ${grid.w} tokens`,
    );
  }
  return rows / per;
}

/** The activation of `feature` at every patch of `image`, row-major [h * w]. */
export function featureMap(
  codes: SparseRows,
  grid: Grid,
  options: { image: number; feature: number },
): Float32Array {
  const per = tokensPerImage(grid);
  const out = new Float32Array(grid.h * grid.w);
  for (let p = 0; p < out.length; p++) {
    const r = options.image * per + grid.skip + p;
    const at = codes.indices[r].indexOf(options.feature);
    if (at >= 0) out[p] = codes.values[r][at];
  }
  return out;
}

/** The `top` features of one image by their largest patch activation (ties: lower id). */
export function topImageFeatures(
  codes: SparseRows,
  grid: Grid,
  options: { image: number; top: number },
): number[] {
  const per = tokensPerImage(grid);
  const best = new Map<number, number>();
  for (let p = 0; p < grid.h * grid.w; p++) {
    const r = options.image * per + grid.skip + p;
    codes.indices[r].forEach((f, j) => {
      const v = codes.values[r][j];
      if (v > (best.get(f) ?? 0)) best.set(f, v);
    });
  }
  return [...best].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, options.top).map(([f]) => f);
}

/**
 * Rows addressed by `patches` in every image: patch indices, or a boolean mask over the grid
 * (flat [h * w] or [h][w]).
 */
export function patchRows(
  patches: readonly number[] | readonly boolean[] | readonly boolean[][],
  options: {
    grid: Grid;
    images: number;
  },
): number[] {
  const { grid } = options;
  const n = grid.h * grid.w;
  let chosen: number[];
  if (patches.length > 0 && Array.isArray(patches[0])) {
    const mask = patches as readonly boolean[][];
    if (mask.length !== grid.h || mask.some((row) => row.length !== grid.w)) {
      throw new SaeError("invalid", `the patch mask must be ${grid.h} x ${grid.w}`);
    }
    chosen = mask.flat().flatMap((v, i) => (v ? [i] : []));
  } else if (patches.length > 0 && typeof patches[0] === "boolean") {
    if (patches.length !== n) {
      throw new SaeError("invalid", `the patch mask must have ${n} entries`);
    }
    chosen = (patches as readonly boolean[]).flatMap((v, i) => (v ? [i] : []));
  } else {
    chosen = [...patches as readonly number[]];
    for (const p of chosen) {
      if (!Number.isInteger(p) || p < 0 || p >= n) {
        throw new SaeError("invalid", `patch ${p} outside [0, ${n})`);
      }
    }
  }
  const per = tokensPerImage(grid);
  const rows: number[] = [];
  for (let img = 0; img < options.images; img++) {
    for (const p of chosen) rows.push(img * per + grid.skip + p);
  }
  return rows;
}

/** One feature's semantic-probe result. */
export interface SemanticScore {
  readonly feature: number;
  readonly f1: number;
  readonly precision: number;
  readonly recall: number;
}

/**
 * The paper's F1 probe: predict an image positive when the feature's activation summed over
 * its patches is > 0; score every feature that fires, best F1 first (ties: lower id).
 */
export function semanticProbe(
  codes: SparseRows,
  options: { grid: Grid; labels: ArrayLike<number>; top?: number },
): SemanticScore[] {
  const { grid, labels } = options;
  const per = tokensPerImage(grid);
  const images = labels.length;
  const fired = new Map<number, Set<number>>();
  for (let img = 0; img < images; img++) {
    for (let p = 0; p < grid.h * grid.w; p++) {
      const r = img * per + grid.skip + p;
      codes.indices[r].forEach((f, j) => {
        if (codes.values[r][j] <= 0) return;
        let set = fired.get(f);
        if (!set) fired.set(f, set = new Set());
        set.add(img);
      });
    }
  }
  let positives = 0;
  for (let i = 0; i < images; i++) positives += labels[i] === 1 ? 1 : 0;
  const scores: SemanticScore[] = [];
  for (const [feature, set] of fired) {
    let tp = 0;
    for (const img of set) tp += labels[img] === 1 ? 1 : 0;
    const precision = set.size ? tp / set.size : 0;
    const recall = positives ? tp / positives : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    scores.push({ feature, f1, precision, recall });
  }
  scores.sort((a, b) => b.f1 - a.f1 || a.feature - b.feature);
  return scores.slice(0, options.top ?? 50);
}
