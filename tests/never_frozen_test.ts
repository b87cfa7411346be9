/**
 * The service as its own process (WASM backend, demo store): research work past its deadline
 * is answered with 503 at the deadline and stops, a client that goes away cancels its job, and
 * meanwhile /healthz and a 1-row encode keep answering; on WebGPU, /healthz answers while the
 * GPU encodes.
 * @module
 */

import assert from "node:assert/strict";
import { type RunningService, startService } from "./service_process.ts";
import { seededRandom } from "../domain/random.ts";
import { writeTopKDictionary } from "../bench/synthetic_dictionary.ts";

const DICTIONARIES = new URL("../dictionaries", import.meta.url).pathname;
const DEADLINE_MS = 1500;

const rand = seededRandom(5);
const rows = (n: number, d: number) =>
  Array.from({ length: n }, () => Array.from({ length: d }, () => rand() * 2 - 1));

/** A probe request that takes several seconds (default methods, 1200 x 64). */
const SLOW_PROBE = JSON.stringify({
  activations: rows(1200, 64),
  labels: Array.from({ length: 1200 }, (_, i) => i % 2),
});

function post(svc: RunningService, path: string, body: string, signal?: AbortSignal) {
  return fetch(svc.url + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    signal,
  });
}

/** Research jobs running, from /metrics; with `abandoned`, also those told to stop but still on. */
async function researchRunning(
  svc: RunningService,
  options?: { abandoned?: boolean },
): Promise<number> {
  const text = await (await fetch(`${svc.url}/metrics`)).text();
  const gauge = (name: string) =>
    Number(new RegExp(`^saeserve_jobs_research_${name} (\\d+)`, "m").exec(text)?.[1] ?? NaN);
  return gauge("running") + (options?.abandoned ? gauge("abandoned") : 0);
}

/** Research workers replaced because their abandoned job did not stop in time. */
async function replacedWorkers(svc: RunningService): Promise<number> {
  const text = await (await fetch(`${svc.url}/metrics`)).text();
  return Number(/^saeserve_jobs_research_workers_replaced (\d+)/m.exec(text)?.[1] ?? NaN);
}

/** Poll until no research job runs; the ms it took. */
async function untilIdle(svc: RunningService, limitMs: number): Promise<number> {
  const t = performance.now();
  while (performance.now() - t < limitMs) {
    // Stopped for real: neither running nor abandoned-but-still-computing, and no worker was
    // replaced (Deno cannot interrupt a busy worker; the job must notice its flag).
    if (await researchRunning(svc, { abandoned: true }) === 0) return performance.now() - t;
    await new Promise((r) => setTimeout(r, 50));
  }
  return Infinity;
}

/** Latencies of /healthz and of a 1-row encode, sampled until `done` settles. */
async function sampleWhile(svc: RunningService, done: Promise<unknown>) {
  let finished = false;
  done.finally(() => (finished = true));
  const health: number[] = [];
  const encode: number[] = [];
  const one = JSON.stringify({ activations: rows(1, 64) });
  while (!finished) {
    let t = performance.now();
    const h = await fetch(`${svc.url}/healthz`);
    await h.body?.cancel();
    health.push(performance.now() - t);
    assert.equal(h.status, 200);
    t = performance.now();
    const e = await post(svc, "/v1/dictionaries/demo-topk/encode", one);
    await e.body?.cancel();
    encode.push(performance.now() - t);
    assert.equal(e.status, 200);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { health: Math.max(...health), encode: Math.max(...encode), samples: health.length };
}

Deno.test("never frozen: a research request past its deadline gets 503 then, stops, and never stalls live requests", async () => {
  const svc = await startService({
    SAESERVE_BACKEND: "wasm",
    SAESERVE_STORE: `file://${DICTIONARIES}`,
    SAESERVE_LOG: "off",
    SAESERVE_REQUEST_TIMEOUT_MS: String(DEADLINE_MS),
  });
  try {
    // Warm: the dictionary loaded, a research worker started.
    await (await post(
      svc,
      "/v1/dictionaries/demo-topk/encode",
      JSON.stringify({
        activations: rows(1, 64),
      }),
    )).body?.cancel();
    const started = performance.now();
    const heavy = post(svc, "/v1/probes/train", SLOW_PROBE).then(async (res) => ({
      status: res.status,
      body: await res.text(),
      ms: performance.now() - started,
    }));
    const live = await sampleWhile(svc, heavy);
    const answer = await heavy;
    assert.equal(answer.status, 503, answer.body);
    assert.match(answer.body, /deadline/);
    assert.ok(answer.ms < DEADLINE_MS + 1000, `answered after ${answer.ms} ms`);
    assert.ok(live.samples >= 5, JSON.stringify(live));
    // The request thread never computed: liveness and live encodes kept answering.
    assert.ok(live.health < 400, JSON.stringify(live));
    assert.ok(live.encode < 600, JSON.stringify(live));
    // The abandoned job stops (at its next check, or its worker is replaced within a second).
    assert.ok(await untilIdle(svc, 2500) < 2500, "the abandoned probe kept running");
    assert.equal(await replacedWorkers(svc), 0, "the probe did not notice its flag");
  } finally {
    await svc.stop();
  }
});

// Deno 2.9.6 does not abort request.signal when an HTTP/1.1 client hangs up while the handler
// runs (denoland/deno#21653: no cancellation in the request phase); the service listens to it
// anyway, and a vanished client's work ends at its deadline at the latest.
Deno.test("never frozen: the job of a client that went away ends by its deadline", async () => {
  const svc = await startService({
    SAESERVE_BACKEND: "wasm",
    SAESERVE_STORE: `file://${DICTIONARIES}`,
    SAESERVE_LOG: "off",
    SAESERVE_REQUEST_TIMEOUT_MS: "2500",
  });
  try {
    const abort = new AbortController();
    const heavy = post(svc, "/v1/probes/train", SLOW_PROBE, abort.signal).catch((e) => e);
    // Wait until the job runs, then hang up.
    const t = performance.now();
    while (await researchRunning(svc) !== 1 && performance.now() - t < 5000) {
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(await researchRunning(svc), 1);
    abort.abort();
    await heavy;
    assert.ok(await untilIdle(svc, 2500 + 2000) < 2500 + 2000, "the job outlived its deadline");
    assert.equal(await replacedWorkers(svc), 0, "the probe did not notice its flag");
  } finally {
    await svc.stop();
  }
});

Deno.test({
  name: "never frozen: on WebGPU (llvmpipe here), /healthz answers while the GPU encodes",
  // A software adapter takes long enough for the pause to show; a real GPU answers in ms.
  ignore: !(await navigator.gpu?.requestAdapter().catch(() => null))?.info.isFallbackAdapter,
  async fn() {
    // Deno's WebGPU blocks its calling thread while the GPU works; the device lives on a worker.
    const store = await Deno.makeTempDir();
    await writeTopKDictionary(store, { name: "wide", dIn: 256, dSae: 8192, k: 32 });
    const svc = await startService({
      SAESERVE_BACKEND: "webgpu",
      SAESERVE_STORE: `file://${store}`,
      SAESERVE_LOG: "off",
    });
    try {
      const encode = (n: number) =>
        post(svc, "/v1/dictionaries/wide/encode", JSON.stringify({ activations: rows(n, 256) }));
      const warm = await encode(1);
      assert.equal(warm.status, 200, await warm.text());
      assert.equal(warm.headers.get("x-saeserve-backend"), "webgpu");
      const started = performance.now();
      const heavy = encode(96).then(async (res) => ({
        status: res.status,
        body: await res.text(),
        ms: performance.now() - started,
      }));
      let finished = false;
      heavy.finally(() => (finished = true));
      const health: number[] = [];
      while (!finished) {
        const t = performance.now();
        const h = await fetch(`${svc.url}/healthz`);
        await h.body?.cancel();
        health.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 10));
      }
      const answer = await heavy;
      assert.equal(answer.status, 200, answer.body);
      const report = JSON.stringify({ encode_ms: answer.ms, health_ms: health });
      assert.ok(answer.ms > 300, `the encode should take a while on llvmpipe: ${report}`);
      assert.ok(health.length >= 3, report);
      assert.ok(Math.max(...health) < answer.ms / 2, report);
    } finally {
      await svc.stop();
      await Deno.remove(store, { recursive: true });
    }
  },
});
