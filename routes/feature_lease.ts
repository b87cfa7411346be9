/**
 * What the feature routes share: a dictionary borrowed together with its model head and
 * saeserve.json model info, feature-id checks, one-row activations, logit-lens token ids and
 * steered copies of a row (output score).
 * @module
 */

import type { Backend } from "../backends/backend.ts";
import { decoderRows, type LensToken, logitLens } from "../domain/features/feature_scores.ts";
import { SaeError } from "../domain/errors.ts";
import type { ModelHead } from "../domain/features/head.ts";
import { type Matrix, matrix } from "../domain/sae/matrix.ts";
import type { Lease } from "../service/registry.ts";
import { decoderDirections, steerRows } from "../domain/sae/steer.ts";
import { encodeRows } from "../domain/sae/sae.ts";
import { jsonMatrix } from "./body_matrix.ts";
import type { AppDeps } from "./deps.ts";

/** What a dictionary's saeserve.json says about its model. */
export interface ModelInfo {
  readonly head?: string;
  readonly beforeFinalNorm: boolean;
  readonly hook?: string;
  readonly model?: string;
}

async function modelInfo(deps: AppDeps, id: string): Promise<ModelInfo> {
  const summary = await deps.registry.describe(id);
  const sidecar = summary.sidecar ?? {};
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  // The hook: saeserve.json's, else the library's own (SAELens hook_name / hook_point,
  // dictionary_learning's submodule), else a sparsify folder named for its hookpoint (layers.6).
  const folder = id.split("/").at(-1)!;
  const sparsifyHook = summary.format === "sparsify" && /^layers\.\d+$/.test(folder)
    ? folder
    : undefined;
  return {
    head: str(sidecar.head),
    beforeFinalNorm: sidecar.before_final_norm === true,
    hook: str(sidecar.hook) ?? str(summary.description?.hookName) ?? sparsifyHook,
    model: str(sidecar.model) ?? str(summary.description?.modelName),
  };
}

/** Run `work` with dictionary `options.id` and, when `needHead`, its model head. */
export async function withDictionary<T>(
  deps: AppDeps,
  work: (lease: Lease, head: ModelHead | null, info: ModelInfo) => Promise<T>,
  options: { id: string; needHead: boolean },
): Promise<T> {
  const id = options.id;
  const info = await modelInfo(deps, id);
  if (options.needHead && !info.head) {
    throw new SaeError("invalid", `dictionary ${id} names no model head (saeserve.json "head")`);
  }
  const lease = await deps.registry.acquire(id);
  try {
    if (!options.needHead) return await work(lease, null, info);
    const headLease = await deps.registry.acquireHead(info.head!);
    try {
      if (headLease.head.dModel !== lease.description.dIn) {
        throw new SaeError(
          "unavailable",
          `model head ${info.head} has d_model ${headLease.head.dModel}, dictionary ${id} has d_in ${lease.description.dIn}`,
        );
      }
      return await work(lease, headLease.head, info);
    } finally {
      headLease.release();
    }
  } finally {
    lease.release();
  }
}

/** 422 unless every feature id is below d_sae. */
export function checkFeatures(features: readonly number[], dSae: number): void {
  for (const f of features) {
    if (f >= dSae) throw new SaeError("invalid", `feature ${f} outside [0, ${dSae})`);
  }
}

/** One activation row given as [d] or [[d]] (JSON), or as a matrix of one row (.npy). */
export function oneRow(value: Matrix | number[] | number[][], dIn: number): Matrix {
  let m: Matrix;
  if ("data" in value) {
    m = value;
  } else {
    m = jsonMatrix(Array.isArray(value[0]) ? value : [value], "activations");
  }
  if (m.rows !== 1) {
    throw new SaeError("invalid", `activations must be one row, got ${m.rows}`);
  }
  if (m.cols !== dIn) {
    throw new SaeError(
      "invalid",
      `activations has ${m.cols} columns, the dictionary d_in is ${dIn}`,
    );
  }
  return m;
}

/** Each feature's top `top` logit-lens tokens through the model head. */
export async function lensIds(backend: Backend, lease: Lease, options: {
  head: ModelHead;
  features: readonly number[];
  top: number;
}): Promise<LensToken[][]> {
  const head = options.head;
  const dirs = await decoderDirections({ backend, prepared: lease.prepared }, options.features);
  return await logitLens(backend, head, {
    directions: decoderRows(options.features, dirs),
    top: options.top,
  });
}

/** Steered copies of one row x: row n adds factor * max_j f_j to features[n]. */
export async function prepareRows(
  backend: Backend,
  lease: Lease,
  options: { x: Matrix; features: readonly number[]; factor: number },
): Promise<Matrix> {
  // The step is factor * max_j f_j of the row: with nothing firing the rows would come back
  // unchanged and every score would be the unsteered model's.
  const { codes } = await encodeRows({ backend, prepared: lease.prepared }, options.x);
  if (Math.max(0, ...codes.values[0]) === 0) {
    throw new SaeError(
      "invalid",
      "no latent is active on this row, so the output-score step (factor x the row's largest " +
        "activation) is 0 and steering would change nothing; send a row where the dictionary fires",
    );
  }
  const n = options.features.length;
  const d = options.x.cols;
  const repeated = matrix([n, d]);
  for (let r = 0; r < n; r++) repeated.data.set(options.x.data, r * d);
  return await steerRows({ backend, prepared: lease.prepared }, repeated, {
    interventions: options.features.map((feature, r) => ({
      feature,
      mode: "add" as const,
      value: options.factor,
      relative: true,
      positions: [r],
    })),
  });
}
