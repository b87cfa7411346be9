/**
 * The work a job worker can run: a fixed table of pure domain functions, each taking one
 * structured-cloneable argument and returning a cloneable result. Kernel work on a loaded
 * dictionary is done by the routes through the backend (itself off the request thread)
 * before a task starts; tasks get codes, not dictionaries (aligned dictionaries travel in
 * shared memory). Imported only by the worker and, as types, by the runner's callers.
 * @module
 */

import {
  type AlignedDictionary,
  conceptAlignment,
  encodeAligned,
  rowJaccard,
  stream,
  translate,
} from "../../domain/sae/aligned.ts";
import {
  type CircuitResult,
  discoverCircuit,
  type HeadOutputs,
} from "../../domain/features/circuits.ts";
import type { DiscoverOptions } from "../../domain/features/circuits.ts";
import type { Cancellation } from "../../domain/cancellation.ts";
import { renderHeatmap } from "../../domain/features/heatmap.ts";
import { nearestRows, type NearestRowsOptions } from "../../domain/features/search_card.ts";
import { jsonText } from "../../domain/io/json_text.ts";
import { decodeImage, encodeRgbPng } from "../../domain/io/image_codec.ts";
import type { Matrix, SparseRows } from "../../domain/sae/matrix.ts";
import {
  predictProbe,
  type ProbeDocument,
  trainProbes,
  type TrainProbesOptions,
} from "../../domain/probe/probes.ts";
import { openBackend } from "../../backends/select.ts";
import {
  featureMap,
  type Grid,
  semanticProbe,
  topImageFeatures,
} from "../../domain/features/vision.ts";

/** Codes computed for `x` (and `testX`) before the task, standing in for an encoder. */
function precomputed(
  pairs: [Matrix | undefined, SparseRows | undefined][],
): ((m: Matrix) => Promise<SparseRows>) | undefined {
  if (!pairs.some(([, codes]) => codes)) return undefined;
  return (m) => {
    const hit = pairs.find(([x]) => x === m);
    if (!hit?.[1]) return Promise.reject(new RangeError("no codes were computed for these rows"));
    return Promise.resolve(hit[1]);
  };
}

/** Arguments of the probe_train task. */
export interface ProbeTrainArgs {
  readonly x: Matrix;
  readonly y: Uint8Array;
  readonly testX?: Matrix;
  readonly testY?: Uint8Array;
  /** Codes of x and testX under the dictionary, for the sae method. */
  readonly codes?: SparseRows;
  readonly testCodes?: SparseRows;
  readonly options: Omit<TrainProbesOptions, "encode">;
}

/** Per-image feature maps of an encode with a grid. */
export interface FeatureMapsArgs {
  readonly codes: SparseRows;
  readonly rows: number;
  readonly grid: Grid;
  readonly images: number;
  readonly features?: number[];
  readonly top: number;
}

/** One image's maps. */
export interface ImageMaps {
  readonly image: number;
  readonly features: { feature: number; max: number; values: number[] }[];
}

/** Arguments of the heatmap task: a feature's values over the grid, drawn as a PNG. */
export interface HeatmapArgs {
  readonly values: Float32Array;
  readonly grid: Grid;
  readonly size?: { width: number; height: number };
  readonly max?: number;
  /** PNG or JPEG bytes to draw over. */
  readonly image?: Uint8Array;
  /** Largest image accepted (its header is read before decoding). */
  readonly maxPixels?: number;
}

/** What every task gets beside its argument. */
export interface TaskContext {
  /** Polled by long loops: throws once the runner abandoned the job. */
  readonly signal: Cancellation;
}

/** The task table. */
export const TASKS = {
  async probe_train(a: ProbeTrainArgs, ctx?: TaskContext) {
    return await trainProbes({ x: a.x, y: a.y, testX: a.testX, testY: a.testY }, {
      ...a.options,
      encode: precomputed([[a.x, a.codes], [a.testX, a.testCodes]]),
      signal: ctx?.signal,
    });
  },
  async probe_predict(
    a: { probe: ProbeDocument; x: Matrix; codes?: SparseRows },
    ctx?: TaskContext,
  ) {
    return await predictProbe(a.probe, a.x, {
      encode: precomputed([[a.x, a.codes]]),
      signal: ctx?.signal,
    });
  },
  async circuits_discover(
    a: { x: HeadOutputs; options: DiscoverOptions & { labels: ArrayLike<number> } },
    ctx?: TaskContext,
  ): Promise<CircuitResult> {
    return await discoverCircuit(await openBackend("reference"), a.x, {
      ...a.options,
      signal: ctx?.signal,
    });
  },
  aligned_encode(a: { dict: AlignedDictionary; x: Map<string, Matrix>; topk: "global" | "local" }) {
    for (const name of a.x.keys()) stream(a.dict, name);
    const out = encodeAligned(a.dict, a.x, { topk: a.topk });
    return { indices: out.indices, values: out.values, jaccard: rowJaccard(out) };
  },
  aligned_translate(a: { dict: AlignedDictionary; x: Matrix; from: string; to: string }) {
    return translate(a.dict, a.x, { from: a.from, to: a.to });
  },
  concept_alignment(
    a: {
      dict: AlignedDictionary;
      x: Map<string, Matrix>;
      topk: "global" | "local";
      labels: number[][];
    },
  ) {
    for (const name of a.x.keys()) stream(a.dict, name);
    const codes = encodeAligned(a.dict, a.x, { topk: a.topk });
    return conceptAlignment(codes, { labels: a.labels, latents: a.dict.latents });
  },
  feature_maps(a: FeatureMapsArgs): ImageMaps[] {
    return Array.from({ length: a.images }, (_, image) => {
      const features = a.features ?? topImageFeatures(a.codes, a.grid, { image, top: a.top });
      return {
        image,
        features: features.map((feature) => {
          const values = featureMap(a.codes, a.grid, { image, feature });
          return {
            feature,
            max: values.reduce((m, v) => Math.max(m, v), 0),
            values: Array.from(values),
          };
        }),
      };
    });
  },
  heatmap(a: HeatmapArgs): Uint8Array<ArrayBuffer> {
    const background = a.image ? decodeImage(a.image, { maxPixels: a.maxPixels }) : undefined;
    const size = a.size ??
      (background
        ? { width: background.width, height: background.height }
        : { width: a.grid.w * 16, height: a.grid.h * 16 });
    return encodeRgbPng(renderHeatmap(a.values, { grid: a.grid, size, max: a.max, background }));
  },
  nearest_rows(a: { block: Matrix; direction: Float32Array; options: NearestRowsOptions }) {
    return nearestRows(a.block, a.direction, a.options);
  },
  json_text(a: { value: unknown }): Uint8Array<ArrayBuffer> {
    return jsonText(a.value);
  },
  semantic_probe(a: { codes: SparseRows; grid: Grid; labels: number[]; top: number }) {
    return semanticProbe(a.codes, { grid: a.grid, labels: a.labels, top: a.top });
  },
};

/** A task's name. */
export type TaskName = keyof typeof TASKS;
/** A task's argument. */
export type TaskArgs<N extends TaskName> = Parameters<(typeof TASKS)[N]>[0];
/** A task's result. */
export type TaskResult<N extends TaskName> = Awaited<ReturnType<(typeof TASKS)[N]>>;
