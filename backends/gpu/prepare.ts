/**
 * A dictionary uploaded to the GPU: the encoder as column chunks of whole GEMM tiles and the
 * decoder as row chunks, each within one buffer binding and in the stored precision, plus the
 * activation vectors the GEMM epilogue reads.
 * @module
 */

import type { Prepared } from "../backend.ts";
import type { SaeWeights } from "../../domain/sae/dictionary.ts";
import { storedMatrix, upload } from "./buffers.ts";
import { columnSlice, spans } from "./chunks.ts";
import type { Chunk, EpilogueBuffers, GpuKernels } from "./kernels.ts";
import { destroyPlan, type Plan } from "./passes.ts";
import { GEMM_TILE, SKINNY_COLUMNS } from "./wgsl.ts";

/** What `prepare` holds on the GPU for one dictionary. */
export interface GpuPrepared extends Prepared {
  /** The kernels (and device) the buffers belong to. */
  readonly kernels: GpuKernels;
  readonly encoder: Chunk[];
  readonly decoder: Chunk[];
  /** Activation vectors: bias (b_enc or b_gate), threshold or magnitude scale, magnitude bias. */
  readonly epilogue: EpilogueBuffers;
  /** Every buffer to destroy at release. */
  readonly buffers: GPUBuffer[];
  /** Recorded small calls kept for reuse, by kind and shape (gpu/kept_plans.ts). */
  readonly plans: Map<string, KeptPlan>;
}

/** Recorded work a dictionary keeps (gpu/kept_plans.ts): inputs rewritten, then submitted. */
export interface KeptPlan {
  /** The buffers a call writes its inputs into, in the order the plan's maker gives. */
  readonly inputs: readonly GPUBuffer[];
  readonly plan: Plan;
  /** GPU bytes its buffers hold. */
  readonly bytes: number;
  /** Whether a call is using it (another call then records its own). */
  busy: boolean;
}

/**
 * Upload `weights` for `kernels` (run it inside the device's error scopes). On failure the
 * buffers created so far are destroyed.
 */
export function uploadWeights(kernels: GpuKernels, weights: SaeWeights): GpuPrepared {
  const buffers: GPUBuffer[] = [];
  const keep = (b: GPUBuffer) => (buffers.push(b), b);
  const { device, maxBinding, precision } = kernels;
  try {
    const { dIn, dSae } = weights;
    // Encoder [d_in, d_sae]: column chunks of whole GEMM tiles within one binding.
    // Columns per chunk: within one binding, and within the skinny GEMM's 65535 workgroups.
    const columns = Math.min(Math.floor(maxBinding / (dIn * 4)), 65535 * SKINNY_COLUMNS);
    const encoder = spans(dSae, columns, { multiple: GEMM_TILE })
      .map((span) => {
        const width = span.end - span.start;
        const { array, ld } = storedMatrix(
          columnSlice(weights.wEnc.data, { shape: weights.wEnc, span }),
          { rows: dIn, cols: width, precision },
        );
        return { span, ld, buffer: keep(upload(device, array)) };
      });
    // Decoder [d_sae, d_in]: row chunks within one binding.
    const decoder = spans(dSae, Math.floor(maxBinding / (dIn * 4))).map((span) => {
      const rows = span.end - span.start;
      const { array, ld } = storedMatrix(
        weights.wDec.data.subarray(span.start * dIn, span.end * dIn),
        { rows, cols: dIn, precision },
      );
      return { span, ld, buffer: keep(upload(device, array)) };
    });
    const a = weights.activation;
    const vec = (v: Float32Array | undefined) => (v ? keep(upload(device, v)) : kernels.dummy);
    return {
      weights,
      extraBytes: 0, // device memory, not host memory
      kernels,
      encoder,
      decoder,
      epilogue: {
        bias: vec(a.kind === "gated" ? a.bGate : a.bEnc),
        thr: vec(
          a.kind === "jumprelu" ? a.threshold : a.kind === "gated" ? a.magScale : undefined,
        ),
        bmag: vec(a.kind === "gated" ? a.bMag : undefined),
      },
      buffers,
      plans: new Map(),
    };
  } catch (e) {
    for (const b of buffers) b.destroy();
    throw e;
  }
}

/** Destroy the buffers of a prepared dictionary and of the plans it keeps. */
export function releaseWeights(prepared: GpuPrepared): void {
  for (const b of prepared.buffers) b.destroy();
  for (const kept of prepared.plans.values()) destroyPlan(kept.plan);
  prepared.plans.clear();
}
