/**
 * One-row steering as an application sees it, over HTTP through the service: encode and a
 * clamp steer of 1 row, and an encode of 64 rows, on a synthetic 2304 x 16384 TopK (k 64)
 * dictionary, with SAESERVE_BACKEND=webgpu (the device on its worker thread) and =wasm side by
 * side in one run. Requests carry .npy bodies over keep-alive connections. Prints one JSON line
 * per measurement (median ms of GPU_HTTP_SECONDS each, default 3). bench/gpu.sh runs it.
 * @module
 */

import { encodeNpy } from "../domain/io/npy.ts";
import { scaledGaussian, writeTopKDictionary } from "./synthetic_dictionary.ts";
import { startService } from "../tests/service_process.ts";

const SECONDS = Number(Deno.env.get("GPU_HTTP_SECONDS") ?? 3);
const BACKENDS = (Deno.env.get("GPU_HTTP_BACKENDS") ?? "webgpu,wasm").split(",");
const D_IN = 2304;

/** Median ms of `call` repeated for SECONDS (at least 5 times) after two warm-up calls. */
async function median(call: () => Promise<void>): Promise<number> {
  await call();
  await call();
  const times: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end || times.length < 5) {
    const t = performance.now();
    await call();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

const dir = await Deno.makeTempDir({ prefix: "saeserve-gpu-http-" });
try {
  await writeTopKDictionary(dir, { name: "big" });
  for (const backend of BACKENDS) {
    const service = await startService({
      SAESERVE_STORE: `file://${dir}`,
      SAESERVE_BACKEND: backend,
    });
    try {
      const url = `${service.url}/v1/dictionaries/big`;
      const post = async (path: string, body: Uint8Array<ArrayBuffer>) => {
        const res = await fetch(`${url}/${path}`, {
          method: "POST",
          headers: { "content-type": "application/x-npy", accept: "application/x-npy" },
          body,
        });
        if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      };
      const one = encodeNpy(scaledGaussian(D_IN, 3, { scale: 1 }), [1, D_IN]);
      const many = encodeNpy(scaledGaussian(64 * D_IN, 4, { scale: 1 }), [64, D_IN]);
      const clamp = encodeURIComponent(JSON.stringify([{ feature: 7, mode: "clamp", value: 5 }]));
      const cases: [string, () => Promise<void>][] = [
        ["encode 1 row", () => post("encode", one)],
        ["steer 1 row (clamp)", () => post(`steer?interventions=${clamp}`, one)],
        ["encode 64 rows", () => post("encode", many)],
      ];
      for (const [what, call] of cases) {
        console.log(JSON.stringify({ backend, what, median_ms: await median(call) }));
      }
    } finally {
      await service.stop();
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
