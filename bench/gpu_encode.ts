/**
 * saeserve's WebGPU encode measured in-process (no HTTP), for the real-GPU comparison run by
 * bench/gpu.sh: TopK (k = 64) dictionaries of 2304 x 16384 and 2304 x 131072 at 1, 64, 1024
 * and 8192 rows. Prints one JSON line per measurement (median ms, rows/s, GFLOP/s).
 * Options: GPU_BENCH_SIZES=16384,131072 GPU_BENCH_ROWS=1,64,1024,8192 GPU_BENCH_SECONDS=3;
 * GPU_BENCH_THREAD=1 calls the device on its own worker thread, as the service does.
 * @module
 */

import type { SaeWeights } from "../domain/sae/dictionary.ts";
import { matrix } from "../domain/sae/matrix.ts";
import { webgpuBackend } from "../backends/gpu/mod.ts";
import { webgpuThread } from "../backends/gpu/thread.ts";
import { uniformArray } from "../domain/random.ts";

const D_IN = Number(Deno.env.get("GPU_BENCH_D_IN") ?? 2304);
const SIZES = (Deno.env.get("GPU_BENCH_SIZES") ?? "16384,131072").split(",").map(Number);
const ROWS = (Deno.env.get("GPU_BENCH_ROWS") ?? "1,64,1024,8192").split(",").map(Number);
const SECONDS = Number(Deno.env.get("GPU_BENCH_SECONDS") ?? 3);

/** `n` seeded values uniform on [-width / 2, width / 2). */
const noise = (n: number, seed: number, width: number): Float32Array =>
  uniformArray(n, seed, { scale: width / 2 });

const THREAD = Deno.env.get("GPU_BENCH_THREAD") === "1";
const gpu = THREAD ? await webgpuThread() : await webgpuBackend();
console.log(
  JSON.stringify({
    thread: THREAD,
    adapter: gpu.adapter,
    fallback: gpu.fallbackAdapter,
    maxBinding: gpu.maxBinding,
  }),
);
try {
  for (const dSae of SIZES) {
    const weights: SaeWeights = {
      dIn: D_IN,
      dSae,
      wEnc: matrix([D_IN, dSae], noise(D_IN * dSae, 1, 0.04)),
      wDec: matrix([dSae, D_IN], new Float32Array(dSae * D_IN)),
      bDec: new Float32Array(D_IN),
      preBias: null,
      activation: { kind: "topk", bEnc: noise(dSae, 2, 0.02), k: 64 },
      normalization: "none",
      wSkip: null,
    };
    const t0 = performance.now();
    const prepared = await gpu.prepare(weights);
    console.log(JSON.stringify({ d_sae: dSae, upload_ms: performance.now() - t0 }));
    for (const rows of ROWS) {
      const x = matrix([rows, D_IN], noise(rows * D_IN, 3 + rows, 2));
      await gpu.encode(prepared, x);
      const times: number[] = [];
      const deadline = performance.now() + SECONDS * 1000;
      while (performance.now() < deadline || times.length < 3) {
        const t = performance.now();
        await gpu.encode(prepared, x);
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      const ms = times[times.length >> 1];
      console.log(JSON.stringify({
        d_sae: dSae,
        rows,
        median_ms: ms,
        rows_per_s: rows / (ms / 1000),
        gflops: (2 * rows * D_IN * dSae) / (ms / 1000) / 1e9,
      }));
    }
    gpu.release(prepared);
  }
} finally {
  await gpu.close();
}
