/**
 * Added time per generated token of steering through the service with the Python client's
 * PyTorch hook, beside the same clamp in-process in torch, 1 and 8 concurrent sequences, on a
 * synthetic 2304 x 16384 TopK (k = 64) dictionary (the size of Gemma Scope 2B 16k).
 *
 * Writes the dictionary to a temporary store, starts the service on it (main.ts, loopback) and
 * runs bench/client_steer.py, which prints the table (step and added p50 / p99 per token).
 *
 * Run: deno run -A bench/client_steer.ts (torch comes from Debian's python3-torch). Options:
 * BENCH_PYTHON=/usr/bin/python3 BENCH_TOKENS=100 BENCH_CONCURRENCY=1,8 BENCH_BACKEND=auto
 * BENCH_WEIGHTS=f32 (the service's SAESERVE_WEIGHTS: f32, bf16, f16, int8) BENCH_JSON=path (the
 * figures as JSON too).
 * @module
 */

import { writeTopKDictionary } from "./synthetic_dictionary.ts";
import { startService } from "../tests/service_process.ts";

const PYTHON = Deno.env.get("BENCH_PYTHON") ?? "/usr/bin/python3";
const TOKENS = Deno.env.get("BENCH_TOKENS") ?? "100";
const CONCURRENCY = Deno.env.get("BENCH_CONCURRENCY") ?? "1,8";
const BACKEND = Deno.env.get("BENCH_BACKEND") ?? "auto";
const WEIGHTS = Deno.env.get("BENCH_WEIGHTS") ?? "f32";
const JSON_OUT = Deno.env.get("BENCH_JSON");

const dir = await Deno.makeTempDir({ prefix: "saeserve-client-steer-" });
try {
  const t0 = performance.now();
  const bytes = await writeTopKDictionary(dir, { name: "big", dIn: 2304, dSae: 16384, k: 64 });
  console.log(
    `wrote ${dir}/big (${(bytes / 2 ** 20).toFixed(0)} MiB) in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
  const service = await startService({
    SAESERVE_STORE: `file://${dir}`,
    SAESERVE_BACKEND: BACKEND,
    SAESERVE_WEIGHTS: WEIGHTS,
    SAESERVE_LOG: "off",
  });
  try {
    const ready = await (await fetch(`${service.url}/readyz`)).json();
    console.log(`service backends: ${JSON.stringify(ready.backends ?? ready)}; weights ${WEIGHTS}`);
    console.log(`load average before: ${Deno.readTextFileSync("/proc/loadavg").trim()}`);
    const status = await new Deno.Command(PYTHON, {
      args: [
        new URL("./client_steer.py", import.meta.url).pathname,
        "--url",
        service.url,
        "--folder",
        `${dir}/big`,
        "--dictionary",
        "big",
        "--tokens",
        TOKENS,
        "--concurrency",
        CONCURRENCY,
        ...(JSON_OUT ? ["--json", JSON_OUT] : []),
      ],
      env: { PYTHONDONTWRITEBYTECODE: "1", OMP_NUM_THREADS: String(navigator.hardwareConcurrency) },
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    console.log(`load average after: ${Deno.readTextFileSync("/proc/loadavg").trim()}`);
    if (!status.success) throw new Error(`${PYTHON} bench/client_steer.py exited ${status.code}`);
  } finally {
    await service.stop();
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
