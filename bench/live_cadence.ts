/**
 * 1-row encodes at a live client's cadence: a pause between requests (the model's own step), as
 * steering one token at a time does, against two services on the same dictionary, one with the
 * default kernel workers and one whose last worker keeps polling for the next round
 * ($SAESERVE_SPIN_MS). Blocks alternate between the two, the order swapped every round; per
 * pause: median and p90 latency, how many blocks the polling service won, and the CPU time each
 * service process used per request (what the polling costs).
 *
 * Run: deno run -A bench/live_cadence.ts. Options: BENCH_PAUSES_MS=0,5,20,50 BENCH_ROUNDS=6
 * BENCH_REQUESTS=60 (per block; 600 without a pause) BENCH_SPIN_MS=50 BENCH_WEIGHTS=int8
 * BENCH_D_SAE=16384.
 * @module
 */

import { encodeNpy } from "../domain/io/npy.ts";
import { gaussianArray } from "../domain/random.ts";
import { type RunningService, startService } from "../tests/service_process.ts";
import { writeTopKDictionary } from "./synthetic_dictionary.ts";

const PAUSES = (Deno.env.get("BENCH_PAUSES_MS") ?? "0,5,20,50").split(",").map(Number);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 6);
const REQUESTS = Number(Deno.env.get("BENCH_REQUESTS") ?? 60);
const SPIN_MS = Deno.env.get("BENCH_SPIN_MS") ?? "50";
const WEIGHTS = Deno.env.get("BENCH_WEIGHTS") ?? "int8";
const D_IN = 2304;
const D_SAE = Number(Deno.env.get("BENCH_D_SAE") ?? 16384);
const K = 64;

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Block this thread for `ms` (the client idles as a model computing its next step would). */
const pause = (ms: number) => ms > 0 && Atomics.wait(sleeper, 0, 0, ms);

const body = encodeNpy(gaussianArray(D_IN, 7), [1, D_IN]);
async function encode(url: string): Promise<void> {
  const res = await fetch(`${url}/v1/dictionaries/big/encode?top=${K}`, {
    method: "POST",
    headers: { "content-type": "application/x-npy", accept: "application/x-npz" },
    body,
  });
  if (res.status !== 200) throw new Error(`encode answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

/** One block: `n` requests, each after `gap` ms; latencies and CPU seconds per request. */
async function block(svc: RunningService, gap: number, n: number) {
  const times: number[] = [];
  const cpu0 = cpuSeconds(svc.pid);
  for (let i = 0; i < n; i++) {
    pause(gap);
    const t0 = performance.now();
    await encode(svc.url);
    times.push(performance.now() - t0);
  }
  return { times, cpuPerRequest: (cpuSeconds(svc.pid) - cpu0) / n };
}

const dir = await Deno.makeTempDir({ prefix: "saeserve-cadence-" });
const services: RunningService[] = [];
try {
  await writeTopKDictionary(dir, { name: "big", dIn: D_IN, dSae: D_SAE, k: K });
  const base = {
    SAESERVE_STORE: `file://${dir}`,
    SAESERVE_BACKEND: "wasm",
    SAESERVE_WEIGHTS: WEIGHTS,
  };
  services.push(await startService({ ...base, SAESERVE_LOG: "off" }));
  services.push(await startService({ ...base, SAESERVE_LOG: "off", SAESERVE_SPIN_MS: SPIN_MS }));
  const names = ["default", `SAESERVE_SPIN_MS=${SPIN_MS}`];
  console.log(
    `${D_IN} x ${D_SAE} TopK k=${K}, ${WEIGHTS} weights, wasm, ${navigator.hardwareConcurrency} ` +
      `cores; 1-row .npy encodes by fetch; ${ROUNDS} rounds per pause, blocks alternating`,
  );
  for (const svc of services) for (let i = 0; i < 4000; i++) await encode(svc.url); // warm-up
  console.log(
    "| pause ms | service | p50 ms | p90 ms | CPU ms per request | blocks won (p50) |",
  );
  console.log("|---:|---|---:|---:|---:|---:|");
  for (const gap of PAUSES) {
    const n = gap === 0 ? 10 * REQUESTS : REQUESTS;
    const all: number[][] = [[], []];
    const cpu: number[][] = [[], []];
    const medians: number[][] = [[], []];
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of round % 2 === 0 ? [0, 1] : [1, 0]) {
        pause(200); // the other service's polling worker is asleep again
        const r = await block(services[s], gap, n);
        all[s].push(...r.times);
        cpu[s].push(r.cpuPerRequest);
        medians[s].push([...r.times].sort((a, b) => a - b)[r.times.length >> 1]);
      }
    }
    for (const s of [0, 1]) {
      const sorted = all[s].sort((a, b) => a - b);
      const won = medians[s].filter((m, i) => m < medians[1 - s][i]).length;
      const cpuMs = cpu[s].reduce((a, b) => a + b, 0) / cpu[s].length * 1000;
      console.log(
        `| ${gap} | ${names[s]} | ${quantile(sorted, 0.5).toFixed(2)} | ${
          quantile(sorted, 0.9).toFixed(2)
        } | ${cpuMs.toFixed(2)} | ${won} of ${ROUNDS} |`,
      );
    }
  }
} finally {
  for (const svc of services) await svc.stop();
  await Deno.remove(dir, { recursive: true });
}
