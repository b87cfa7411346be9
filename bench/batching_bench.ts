/**
 * Micro-batching under live-steering load: 32 concurrent clients each sending 1-row steer (clamp,
 * which encodes first) requests to the 2304 x 16384 TopK dictionary on the WASM path, batching on and off
 * (the service runs as its own process; the clients are loadtest.ts). Reports req/s, p50/p99
 * and the ratio; with BENCH_SOAK_MINUTES > 0 it then soaks at that load and reports resident
 * memory after the first minute and at the end.
 * Options: BENCH_SECONDS=15 BENCH_CONCURRENCY=32 BENCH_SOAK_MINUTES=0 BENCH_D_SAE=16384.
 * @module
 */

import { runLoadtest } from "../cli/loadtest/mod.ts";
import { writeTopKDictionary } from "./synthetic_dictionary.ts";
import { memoryOf, type RunningService, startService } from "../tests/service_process.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 15);
const CONCURRENCY = Number(Deno.env.get("BENCH_CONCURRENCY") ?? 32);
const SOAK_MINUTES = Number(Deno.env.get("BENCH_SOAK_MINUTES") ?? 0);
const D_SAE = Number(Deno.env.get("BENCH_D_SAE") ?? 16384);

function rss(pid: number): number {
  return memoryOf(pid).rss;
}

function service(dir: string, batching: boolean): Promise<RunningService> {
  return startService({
    SAESERVE_STORE: `file://${dir}`,
    SAESERVE_BACKEND: "wasm",
    SAESERVE_BATCHING: batching ? "1" : "0",
    SAESERVE_LOG: "off",
  }, { portBase: 22000 });
}

async function phase(url: string, seconds: number) {
  const report = await runLoadtest({
    url,
    dictionary: "big",
    rows: 1,
    concurrency: CONCURRENCY,
    duration: seconds,
    mix: ["clamp"],
    backends: ["wasm"],
    out: null,
    log: () => {},
  });
  return report.phases[0];
}

const dir = await Deno.makeTempDir({ prefix: "saeserve-batching-" });
try {
  await writeTopKDictionary(dir, { dSae: D_SAE });
  console.log(
    `1-row steer, ${CONCURRENCY} concurrent clients, 2304 x ${D_SAE} TopK, WASM, ${SECONDS} s per run`,
  );
  const results: Record<string, { reqPerS: number; p50: number; p99: number }> = {};
  for (const batching of [false, true]) {
    const svc = await service(dir, batching);
    try {
      await phase(svc.url, 3); // load the dictionary and warm up
      const r = await phase(svc.url, SECONDS);
      const p = r.latencyMs!;
      results[batching ? "on" : "off"] = {
        reqPerS: r.reqPerS,
        p50: p.p50 ?? NaN,
        p99: p.p99 ?? NaN,
      };
      console.log(
        `batching ${batching ? "on " : "off"}: ${r.reqPerS.toFixed(1)} req/s, p50 ${
          (p.p50 ?? NaN).toFixed(1)
        } ms, p99 ${(p.p99 ?? NaN).toFixed(1)} ms, errors ${JSON.stringify(r.errors)}`,
      );
      if (batching && SOAK_MINUTES > 0) {
        await phase(svc.url, 60);
        const first = rss(svc.pid);
        await phase(svc.url, (SOAK_MINUTES - 1) * 60);
        const last = rss(svc.pid);
        console.log(
          `soak ${SOAK_MINUTES} min: RSS ${(first / 2 ** 20).toFixed(0)} MiB after 1 min, ${
            (last / 2 ** 20).toFixed(0)
          } MiB at the end (${(((last - first) / first) * 100).toFixed(1)} %)`,
        );
      }
    } finally {
      await svc.stop();
    }
  }
  console.log(
    `batching on / off: ${
      (results.on.reqPerS / results.off.reqPerS).toFixed(2)
    }x requests/s (goal >= 4x, p99 < 100 ms)`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
