/**
 * Where one WebGPU encode spends its time (bench/gpu.sh runs it on a real GPU): every WebGPU
 * call the backend makes is wrapped to sum its host time, then one-row (and four-row) encodes
 * of TopK (k 64) dictionaries run. Under Deno `mapAsync` blocks until the GPU is done, so its
 * share is the device's time plus the wait; the rest is host work. Prints one JSON line per
 * case: wall ms per encode, and ms and calls per encode for each wrapped method.
 * A narrow d_in beside the usual 2304 separates the GEMM's share from the selection's and the
 * fixed costs. Options: GPU_PROFILE_SIZES=16384,131072 GPU_PROFILE_D_IN=2304,256
 * GPU_PROFILE_ROWS=1,4 GPU_PROFILE_CALLS=200.
 * @module
 */

import type { SaeWeights } from "../domain/sae/dictionary.ts";
import { matrix } from "../domain/sae/matrix.ts";
import { webgpuBackend } from "../backends/gpu/mod.ts";
import { uniformArray } from "../domain/random.ts";

const D_INS = (Deno.env.get("GPU_PROFILE_D_IN") ?? "2304,256").split(",").map(Number);
const SIZES = (Deno.env.get("GPU_PROFILE_SIZES") ?? "16384,131072").split(",").map(Number);
const ROWS = (Deno.env.get("GPU_PROFILE_ROWS") ?? "1,4").split(",").map(Number);
const CALLS = Number(Deno.env.get("GPU_PROFILE_CALLS") ?? 200);

const totals = new Map<string, { calls: number; ms: number }>();

/** Replace `proto[name]` with a version that adds its host time to `totals`. */
function wrap(label: string, proto: object, name: string): void {
  const target = proto as Record<string, (...args: unknown[]) => unknown>;
  const original = target[name];
  target[name] = function (this: unknown, ...args: unknown[]): unknown {
    const t = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      const entry = totals.get(label) ?? { calls: 0, ms: 0 };
      entry.calls++;
      entry.ms += performance.now() - t;
      totals.set(label, entry);
    }
  };
}

const wrapped: [string, object, string[]][] = [
  ["device", GPUDevice.prototype, ["createBuffer", "createBindGroup", "createCommandEncoder"]],
  ["queue", GPUQueue.prototype, ["writeBuffer", "submit"]],
  ["buffer", GPUBuffer.prototype, ["mapAsync", "getMappedRange", "unmap", "destroy"]],
  ["pipeline", GPUComputePipeline.prototype, ["getBindGroupLayout"]],
  ["encoder", GPUCommandEncoder.prototype, ["beginComputePass", "copyBufferToBuffer", "finish"]],
  ["pass", GPUComputePassEncoder.prototype, [
    "setPipeline",
    "setBindGroup",
    "dispatchWorkgroups",
    "end",
  ]],
];
for (const [owner, proto, names] of wrapped) {
  for (const name of names) wrap(`${owner}.${name}`, proto, name);
}

const gpu = await webgpuBackend();
console.log(JSON.stringify({ profile: gpu.adapter, fallback: gpu.fallbackAdapter }));
try {
  for (const [D_IN, dSae] of D_INS.flatMap((d) => SIZES.map((n) => [d, n]))) {
    const weights: SaeWeights = {
      dIn: D_IN,
      dSae,
      wEnc: matrix([D_IN, dSae], uniformArray(D_IN * dSae, 1, { scale: 0.02 })),
      wDec: matrix([dSae, D_IN], new Float32Array(dSae * D_IN)),
      bDec: new Float32Array(D_IN),
      preBias: null,
      activation: { kind: "topk", bEnc: uniformArray(dSae, 2, { scale: 0.01 }), k: 64 },
      normalization: "none",
      wSkip: null,
    };
    const prepared = await gpu.prepare(weights);
    for (const rows of ROWS) {
      const x = matrix([rows, D_IN], uniformArray(rows * D_IN, 3 + rows, { scale: 1 }));
      for (let i = 0; i < 10; i++) await gpu.encode(prepared, x);
      totals.clear();
      const t0 = performance.now();
      for (let i = 0; i < CALLS; i++) await gpu.encode(prepared, x);
      const wall = (performance.now() - t0) / CALLS;
      const per: Record<string, [number, number]> = {};
      let host = 0;
      for (const [label, { calls, ms }] of [...totals].sort((a, b) => b[1].ms - a[1].ms)) {
        per[label] = [Number((ms / CALLS).toFixed(4)), calls / CALLS];
        host += ms / CALLS;
      }
      console.log(JSON.stringify({
        d_in: D_IN,
        d_sae: dSae,
        rows,
        wall_ms: Number(wall.toFixed(4)),
        wrapped_ms: Number(host.toFixed(4)),
        per_encode: per,
      }));
    }
    gpu.release(prepared);
  }
} finally {
  gpu.close();
}
