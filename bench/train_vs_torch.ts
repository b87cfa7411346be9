/**
 * Training throughput side by side in one run: saeserve's TopK trainer (WASM backend, and
 * WebGPU where a real adapter exists) against an equivalent PyTorch CPU loop
 * (bench/torch_train.py), d_in 768, 16384 latents, k 32, batch 4096. The WASM trainer runs the
 * TopK objective on its training kernels (wasm/train_objective.ts: selection fused into the
 * encoder GEMM, sparse decode and backward); torch runs its dense autograd loop.
 * Options: TRAIN_BENCH_STEPS=5 TRAIN_BENCH_BATCH=4096 TRAIN_BENCH_D_IN=768 TRAIN_BENCH_LATENTS=16384,
 * BENCH_GLIBC_TUNABLES (torch's malloc settings; "" for glibc's defaults).
 * @module
 */

import { type Matrix, matrix } from "../domain/sae/matrix.ts";
import { trainSae } from "../domain/train/trainer.ts";
import { hasHardwareAdapter, webgpuBackend } from "../backends/gpu/mod.ts";
import { wasmBackend } from "../backends/wasm/mod.ts";
import { uniformArray } from "../domain/random.ts";

const D_IN = Number(Deno.env.get("TRAIN_BENCH_D_IN") ?? 768);
const LATENTS = Number(Deno.env.get("TRAIN_BENCH_LATENTS") ?? 16384);
const BATCH = Number(Deno.env.get("TRAIN_BENCH_BATCH") ?? 4096);
const STEPS = Number(Deno.env.get("TRAIN_BENCH_STEPS") ?? 5);
const K = 32;

const pool = uniformArray(2 * BATCH * D_IN, 1, { scale: 1.7 });
let turn = 0;
const source = {
  dIn: D_IN,
  next(rows: number): Promise<Matrix> {
    const at = (turn++ % 2) * BATCH * D_IN;
    // A view of the next batch (torch's loop slices its pool the same way).
    return Promise.resolve(matrix([rows, D_IN], pool.subarray(at, at + rows * D_IN)));
  },
};

async function saeserveRowsPerSecond(
  name: string,
  backend: Parameters<typeof trainSae>[1]["backend"],
) {
  const times: number[] = [];
  let last = performance.now();
  await trainSae(source, {
    backend,
    architecture: "topk",
    latents: LATENTS,
    k: K,
    steps: STEPS + 1,
    batch: BATCH,
    progressEvery: 1,
    onProgress: () => {
      const now = performance.now();
      times.push(now - last);
      last = now;
    },
  });
  const steady = times.slice(1); // the first step includes initialization
  const ms = steady.reduce((a, b) => a + b, 0) / steady.length;
  console.log(
    `saeserve ${name}: ${ms.toFixed(0)} ms/step, ${(BATCH / (ms / 1000)).toFixed(0)} rows/s`,
  );
  return BATCH / (ms / 1000);
}

console.log(
  `TopK training: d_in ${D_IN}, ${LATENTS} latents, k ${K}, batch ${BATCH}, ${STEPS} timed steps`,
);
const wasm = await wasmBackend();
const wasmRate = await saeserveRowsPerSecond(`wasm (${wasm.threads} threads)`, wasm);
wasm.close();
if (await hasHardwareAdapter()) {
  const gpu = await webgpuBackend({ requireHardware: true });
  await saeserveRowsPerSecond(`webgpu (${gpu.adapter})`, gpu);
  gpu.close();
} else {
  console.log("saeserve webgpu: skipped (no hardware adapter; llvmpipe would be informative only)");
}
try {
  const out = new Deno.Command(Deno.env.get("BENCH_PYTHON") ?? "/usr/bin/python3", {
    args: [
      new URL("./torch_train.py", import.meta.url).pathname,
      "--d-in",
      String(D_IN),
      "--latents",
      String(LATENTS),
      "--k",
      String(K),
      "--batch",
      String(BATCH),
      "--steps",
      String(STEPS),
    ],
    env: {
      OMP_NUM_THREADS: String(navigator.hardwareConcurrency),
      // glibc returns torch's large per-step tensors to the kernel and maps them again every
      // step; on hosts where page faults are slow that dominates its step. Transparent huge
      // pages for malloc cut the faults 50-fold, so torch is measured at its best here.
      GLIBC_TUNABLES: Deno.env.get("BENCH_GLIBC_TUNABLES") ?? "glibc.malloc.hugetlb=1",
    },
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr).trim().split("\n").pop());
  const torch = JSON.parse(new TextDecoder().decode(out.stdout));
  console.log(
    `torch cpu (${torch.threads} threads): ${torch.step_ms.toFixed(0)} ms/step, ${
      torch.rows_per_s.toFixed(0)
    } rows/s`,
  );
  console.log(
    `wasm / torch training throughput: ${(wasmRate / torch.rows_per_s).toFixed(2)}x (goal >= 1.0x)`,
  );
} catch (e) {
  console.log(`torch skipped: ${(e as Error).message}`);
}
