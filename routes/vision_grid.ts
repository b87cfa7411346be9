/**
 * The vision options of the compute routes: per-image feature maps of an encode with `grid`,
 * and steering interventions given as `patches` of the grid instead of row positions.
 * @module
 */

import { SaeError } from "../domain/errors.ts";
import type { SparseRows } from "../domain/sae/matrix.ts";
import type { Intervention } from "../domain/sae/steer.ts";
import { imageCount, patchRows } from "../domain/features/vision.ts";
import type { ImageMaps } from "../service/jobs/mod.ts";
import type { AppDeps } from "./deps.ts";

/** Per-image feature maps of a vision request (encode with `grid`), drawn on a live worker. */
export function gridMaps(
  deps: AppDeps,
  codes: SparseRows,
  options: {
    rows: number;
    grid?: number[];
    skip_tokens: number;
    map_features?: number[];
    maps_top: number;
    signal: AbortSignal;
  },
): Promise<ImageMaps[]> {
  const grid = { h: options.grid![0], w: options.grid![1], skip: options.skip_tokens };
  return deps.jobs.run("feature_maps", {
    codes,
    rows: options.rows,
    grid,
    images: imageCount(options.rows, grid),
    features: options.map_features,
    top: options.maps_top,
  }, { priority: "live", signal: options.signal });
}

/** Interventions with `patches` turned into row positions over every image of the grid. */
export function withPatchPositions(
  options: { interventions: Intervention[]; grid?: number[]; skip_tokens: number },
  rows: number,
): Intervention[] {
  return options.interventions.map((iv) => {
    const { patches, ...rest } = iv as Intervention & {
      patches?: number[] | boolean[] | boolean[][];
    };
    if (patches === undefined) return rest;
    if (!options.grid) throw new SaeError("invalid", "patches need a grid: [h, w]");
    if (iv.positions) throw new SaeError("invalid", "give positions or patches, not both");
    const grid = { h: options.grid[0], w: options.grid[1], skip: options.skip_tokens };
    return { ...rest, positions: patchRows(patches, { grid, images: imageCount(rows, grid) }) };
  });
}

/** 422 when an option that only shapes a vision grid's answer comes without `grid`. */
export function requireGrid(raw: Record<string, unknown>, options: { names: string[] }): void {
  if (raw.grid !== undefined) return;
  const given = options.names.find((name) => raw[name] !== undefined);
  if (given) {
    throw new SaeError("invalid", `${given} applies to vision grids only: give grid [h, w] too`);
  }
}
