/**
 * Live steering beside research work: 32 clients sending 1-row clamp steer requests to a
 * 2304 x 16384 TopK dictionary on the WASM path (the service as its own process), first alone,
 * then while research clients keep requests at the largest size the default budgets allow
 * running (probe training with the SAE method on that dictionary, plus raw-activation probes,
 * and circuit discovery). A /healthz probe runs throughout. Reports live p50/p99 and /healthz
 * p99 for both phases and the ratio of live p99 (goal: at most 2 x; /healthz p99 under 50 ms).
 * Research answers are counted per route and status, with the median time of each route's 200s.
 * Options: BENCH_SECONDS=60 BENCH_CONCURRENCY=32 BENCH_RESEARCH_CLIENTS=2; SAESERVE_LIVE_TURNS
 * is passed to the service (unset: its default).
 * @module
 */

import { runLoadtest } from "../cli/loadtest/mod.ts";
import { circuitWork, DEFAULT_LIMITS } from "../domain/cost.ts";
import { seededRandom } from "../domain/random.ts";
import { writeTopKDictionary } from "./synthetic_dictionary.ts";
import { startService } from "../tests/service_process.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 60);
const CONCURRENCY = Number(Deno.env.get("BENCH_CONCURRENCY") ?? 32);
const RESEARCH_CLIENTS = Number(Deno.env.get("BENCH_RESEARCH_CLIENTS") ?? 2);

const rand = seededRandom(7);
const rows = (n: number, d: number) =>
  Array.from({ length: n }, () => Array.from({ length: d }, () => rand() * 2 - 1));

/** The largest circuit request the default budget allows on a 10 x 8 x 16 input. */
function circuitBody(): string {
  const shape = { examples: 10, heads: 8, dModel: 16 };
  const latents = 256;
  let epochs = 100;
  while (
    circuitWork(shape, { epochs: epochs * 2, latents, trainExamples: 10 }) <=
      DEFAULT_LIMITS.maxCircuitWork && epochs < 50_000
  ) epochs *= 2;
  return JSON.stringify({
    head_outputs: Array.from({ length: shape.examples }, () => rows(shape.heads, shape.dModel)),
    labels: Array.from({ length: shape.examples }, (_, e) => e % 2),
    options: { epochs, latents },
  });
}

const research = [
  // 1500 x 64 with the default methods: the size the probe budget was sized on.
  JSON.stringify({
    activations: rows(1500, 64),
    labels: Array.from({ length: 1500 }, (_, i) => i % 2),
  }),
  // SAE probes on the big dictionary: its kernel calls go through the research queue.
  JSON.stringify({
    activations: rows(400, 2304),
    labels: Array.from({ length: 400 }, (_, i) => i % 2),
    dictionary: "big",
    methods: ["sae"],
    k: [1, 4, 16],
  }),
].map((body) => ({ path: "/v1/probes/train", body }));
research.push({ path: "/v1/circuits/discover", body: circuitBody() });

function quantile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
}

async function phase(url: string, withResearch: boolean) {
  let running = true;
  const health: number[] = [];
  const researchStatus: Record<string, number> = {};
  const researchMs: Record<string, number[]> = {};
  const probe = (async () => {
    while (running) {
      const t = performance.now();
      await (await fetch(`${url}/healthz`)).body?.cancel();
      health.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const researchers = withResearch
    ? Array.from({ length: RESEARCH_CLIENTS }, async (_, i) => {
      for (let n = i; running; n++) {
        const req = research[n % research.length];
        const started = performance.now();
        const res = await fetch(url + req.path, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: req.body,
        });
        await res.body?.cancel();
        const key = `${req.path} ${res.status}`;
        researchStatus[key] = (researchStatus[key] ?? 0) + 1;
        if (res.status === 200) (researchMs[key] ??= []).push(performance.now() - started);
      }
    })
    : [];
  const report = await runLoadtest({
    url,
    dictionary: "big",
    rows: 1,
    concurrency: CONCURRENCY,
    duration: SECONDS,
    mix: ["clamp"],
    backends: ["wasm"],
    out: null,
    log: () => {},
  });
  running = false;
  await Promise.all([probe, ...researchers]);
  health.sort((a, b) => a - b);
  const live = report.phases[0];
  return {
    reqPerS: live.reqPerS,
    p50: live.latencyMs?.p50 ?? NaN,
    p99: live.latencyMs?.p99 ?? NaN,
    errors: live.errors,
    healthP99: quantile(health, 0.99),
    healthMax: health.at(-1) ?? NaN,
    research: researchStatus,
    researchMedianMs: Object.fromEntries(
      Object.entries(researchMs).map((
        [k, v],
      ) => [k, Math.round(quantile(v.sort((a, b) => a - b), 0.5))]),
    ),
  };
}

const dir = await Deno.makeTempDir({ prefix: "saeserve-isolation-" });
try {
  await writeTopKDictionary(dir, { dSae: 16384 });
  const svc = await startService({
    SAESERVE_STORE: `file://${dir}`,
    SAESERVE_BACKEND: "wasm",
    SAESERVE_LOG: "off",
    SAESERVE_MAX_BODY_MB: "128",
    SAESERVE_LIVE_TURNS: Deno.env.get("SAESERVE_LIVE_TURNS") ?? "",
  }, { portBase: 23000 });
  try {
    await runLoadtest({
      url: svc.url,
      dictionary: "big",
      rows: 1,
      concurrency: 4,
      duration: 3,
      mix: ["clamp"],
      backends: ["wasm"],
      out: null,
      log: () => {},
    });
    console.log(
      `${CONCURRENCY} live clients (1-row clamp steer, 2304 x 16384 TopK, WASM), ${SECONDS} s per ` +
        `phase, SAESERVE_LIVE_TURNS=${Deno.env.get("SAESERVE_LIVE_TURNS") ?? "(default)"}`,
    );
    const alone = await phase(svc.url, false);
    console.log("live alone:   ", JSON.stringify(alone));
    const loaded = await phase(svc.url, true);
    console.log("with research:", JSON.stringify(loaded));
    console.log(
      `live p99 with research / alone: ${(loaded.p99 / alone.p99).toFixed(2)} x (goal <= 2); ` +
        `/healthz p99 ${loaded.healthP99.toFixed(1)} ms (goal < 50)`,
    );
  } finally {
    await svc.stop();
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
