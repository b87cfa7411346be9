/**
 * The `webgpu` compute backend: dictionaries uploaded once into GPU buffers (split across
 * buffers beyond the adapter's binding limit; gpu/prepare.ts), encode as a tiled GEMM with a
 * fused activation followed by a multi-level partial top-k on the GPU (only indices and values
 * come back; gpu/encode.ts), sparse decode and steer as GPU accumulations (gpu/decode.ts).
 * Runs on any adapter, llvmpipe included.
 * @module
 */

import type { Backend, CallOptions, DeviceInfo, EncodeOptions, Prepared } from "../backend.ts";
import type { SaeWeights } from "../../domain/sae/dictionary.ts";
import { SaeError } from "../../domain/errors.ts";
import type { Matrix, SparseRows } from "../../domain/sae/matrix.ts";
import type { Precision } from "../../domain/precision.ts";
import { topKRows } from "../top_k_rows.ts";
import { decodeDense, decodeSparse, steerRows } from "./decode.ts";
import { guardDevice, openDevice } from "./device.ts";
import { encodeRows } from "./encode.ts";
import { GpuKernels } from "./kernels.ts";
import { type GpuPrepared, releaseWeights, uploadWeights } from "./prepare.ts";

export { hasHardwareAdapter } from "./device.ts";

/** Options of {@link webgpuBackend}. */
export interface WebGpuBackendOptions {
  /** Refuse software adapters (what `auto` wants). Default false: any adapter. */
  requireHardware?: boolean;
  /** Largest buffer binding used, in bytes (default: the adapter's limit). Tests lower it. */
  maxBindingBytes?: number;
  /** Stored weight precision (default f32); f16 and bf16 halve GPU memory and bandwidth. */
  weights?: Precision;
}

/** A backend holding a GPU device: close it when done. */
export interface WebGpuBackend extends Backend {
  /** The adapter's description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  readonly adapter: string;
  /** Largest buffer binding used, in bytes. */
  readonly maxBinding: number;
  /** Stored weight precision. */
  readonly precision: Precision;
  /** Whether the adapter is a software fallback. */
  readonly fallbackAdapter: boolean;
  /** Resolves when the device is lost (never, normally). */
  readonly lost: Promise<string>;
  /** Release the device (on its own thread: settles once the thread has let it go). */
  close(): void | Promise<void>;
}

/** Start the WebGPU backend; throws SaeError "unavailable" when no usable adapter exists. */
export async function webgpuBackend(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  const opened = await openDevice({ requireHardware: options.requireHardware ?? false });
  if (!opened) throw new SaeError("unavailable", "no WebGPU adapter is available");
  const { adapter, device } = opened;
  const maxBinding = Math.min(
    options.maxBindingBytes ?? Infinity,
    device.limits.maxStorageBufferBindingSize,
    device.limits.maxBufferSize,
  );
  const guard = guardDevice(device);
  const kernels = new GpuKernels(device, {
    maxBinding,
    precision: options.weights ?? "f32",
    guarded: guard.guarded,
  });

  return {
    name: "webgpu",
    adapter: adapter.info.description || adapter.info.vendor,
    fallbackAdapter: adapter.info.isFallbackAdapter,
    device: (): DeviceInfo => ({
      adapter: adapter.info.description || adapter.info.vendor || "unnamed adapter",
      software: adapter.info.isFallbackAdapter,
    }),
    maxBinding,
    precision: kernels.precision,
    lost: guard.lost,
    prepare(weights: SaeWeights): Promise<Prepared> {
      let prepared: GpuPrepared | undefined;
      return guard.guarded(() => (prepared = uploadWeights(kernels, weights))).catch(
        (e: unknown) => {
          if (prepared) releaseWeights(prepared);
          throw e;
        },
      );
    },
    release(prepared: Prepared): void {
      releaseWeights(prepared as GpuPrepared);
    },
    encode(prepared: Prepared, s: Matrix, options?: EncodeOptions): Promise<SparseRows> {
      return guard.safely(() => encodeRows(prepared as GpuPrepared, s, options), options?.signal);
    },
    decodeSparse(
      prepared: Prepared,
      codes: SparseRows,
      options?: { bias?: boolean } & CallOptions,
    ): Promise<Matrix> {
      const p = prepared as GpuPrepared;
      return guard.safely(() => decodeSparse(p, codes, options), options?.signal);
    },
    decodeDense(
      prepared: Prepared,
      codes: Matrix,
      options?: { bias?: boolean } & CallOptions,
    ): Promise<Matrix> {
      const p = prepared as GpuPrepared;
      return guard.safely(() => decodeDense(p, codes, options), options?.signal);
    },
    steer(
      prepared: Prepared,
      x: Matrix,
      deltas: SparseRows,
      options?: { rowScale?: Float32Array } & CallOptions,
    ): Promise<Matrix> {
      const p = prepared as GpuPrepared;
      const rowScale = options?.rowScale;
      return guard.safely(() => steerRows(p, x, { deltas, rowScale }), options?.signal);
    },
    matmul(
      a: Matrix,
      b: Matrix,
      options?: { transposeB?: boolean } & CallOptions,
    ): Promise<Matrix> {
      return guard.safely(() => kernels.matmul(a, b, options), options?.signal);
    },
    topK(m: Matrix, k: number, options?: CallOptions): Promise<SparseRows> {
      if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
      return Promise.resolve(topKRows(m, k));
    },
    close(): void {
      kernels.destroy();
      device.destroy();
    },
  };
}
