/**
 * Chaos run against the service as its own process (WASM backend, demo store, loopback):
 * live clients (1-row encode, clamp steer, decode) beside research clients (probes, circuits,
 * heatmaps, grid maps, some past the deadline), random client disconnects, a /healthz probe,
 * and a SIGTERM at the end while requests are in flight. Seeded and bounded. The test suite
 * runs it for about 20 s (tests/chaos_test.ts); `deno run -A bench/chaos.ts --seconds 300`
 * runs it longer and prints the summary as JSON.
 * @module
 */

import { parseArgs } from "node:util";
import { seededRandom } from "../domain/random.ts";
import { startService } from "../tests/service_process.ts";

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  readonly seconds: number;
  readonly seed?: number;
  /** Per-request deadline given to the service, ms (default 2000). */
  readonly deadlineMs?: number;
  readonly liveClients?: number;
  readonly researchClients?: number;
  /** Seconds of the same mix before the starting memory is read (10). */
  readonly warmupSeconds?: number;
  /** Pause after the warm-up and after the traffic before memory is read, ms (2000). */
  readonly settleMs?: number;
}

/** What a run saw. */
export interface ChaosSummary {
  /** Answers by status. */
  readonly statuses: Record<string, number>;
  /** Requests the client abandoned on purpose (disconnects). */
  readonly disconnected: number;
  /** Requests with no answer within deadline + 5 s (hangs). */
  readonly hung: number;
  /** 503 answers that were not a deadline, a disconnect or over capacity. */
  readonly unexpected503: string[];
  /** Any 5xx other than 503. */
  readonly server_errors: string[];
  readonly healthz: { count: number; p50_ms: number; p99_ms: number; max_ms: number };
  readonly live: { count: number; p50_ms: number; p99_ms: number };
  readonly rss_start_mb: number;
  readonly rss_end_mb: number;
  /** Resident memory every 5 s of traffic, MiB (warm-up included). */
  readonly rss_samples_mb: number[];
  /** The request thread's JavaScript heap in use at the same moments, MiB. */
  readonly heap_samples_mb: number[];
  /** Job workers replaced (abandoned research), from /metrics. */
  readonly workers_replaced: number;
  /** SIGTERM to exit, ms, and the exit code. */
  readonly shutdown_ms: number;
  readonly exit_code: number;
  /** What the in-flight requests at SIGTERM got: status, or "closed". */
  readonly at_shutdown: Record<string, number>;
}

const DICTIONARIES = new URL("../dictionaries", import.meta.url).pathname;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Run the chaos mix for `options.seconds` and return what happened. */
export async function runChaos(options: ChaosOptions): Promise<ChaosSummary> {
  const deadlineMs = options.deadlineMs ?? 2000;
  const rand = seededRandom(options.seed ?? 1);
  const service = await startService({
    SAESERVE_BACKEND: "wasm",
    SAESERVE_THREADS: "2",
    SAESERVE_STORE: `file://${DICTIONARIES}`,
    SAESERVE_LOG: "off",
    SAESERVE_REQUEST_TIMEOUT_MS: String(deadlineMs),
    SAESERVE_SHUTDOWN_GRACE_MS: "3000",
    ...(Deno.env.get("CHAOS_MALLOC_ARENA_MAX")
      ? { MALLOC_ARENA_MAX: Deno.env.get("CHAOS_MALLOC_ARENA_MAX")! }
      : {}),
  });
  const url = service.url;
  const statuses: Record<string, number> = {};
  const unexpected503: string[] = [];
  const serverErrors: string[] = [];
  const liveMs: number[] = [];
  const healthMs: number[] = [];
  const rssSamples: number[] = [];
  const heapSamples: number[] = [];
  let disconnected = 0;
  let hung = 0;

  const row = (d: number) => Array.from({ length: d }, () => rand() * 2 - 1);
  const rows = (n: number, d: number) => Array.from({ length: n }, () => row(d));
  const post = (path: string, body: unknown) => ({
    path,
    init: {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    },
  });
  const circuitInput = (examples: number) => ({
    head_outputs: Array.from({ length: examples }, () => rows(8, 16)),
    labels: Array.from({ length: examples }, (_, e) => e % 2),
  });
  const live = [
    () => post("/v1/dictionaries/demo-topk/encode", { activations: rows(1, 64) }),
    () =>
      post("/v1/dictionaries/demo-topk/steer", {
        activations: rows(1, 64),
        interventions: [{ feature: Math.floor(rand() * 256), mode: "clamp", value: 3 }],
      }),
    () => post("/v1/dictionaries/demo-topk/decode", { indices: [[1, 5]], values: [[1, 2]] }),
  ];
  const research = [
    () => {
      const n = 100 + Math.floor(rand() * 900);
      return post("/v1/probes/train", {
        activations: rows(n, 64),
        labels: Array.from({ length: n }, (_, i) => i % 2),
      });
    },
    () =>
      post("/v1/circuits/discover", {
        ...circuitInput(10),
        options: { epochs: 50 + Math.floor(rand() * 3000), latents: 64 },
      }),
    () =>
      post("/v1/dictionaries/demo-topk/heatmap", {
        activations: rows(1 + 64, 64),
        grid: [8, 8],
        skip_tokens: 1,
        feature: Math.floor(rand() * 256),
        size: [256, 256],
      }),
    () =>
      post("/v1/dictionaries/demo-topk/encode", {
        activations: rows(4 * 17, 64),
        grid: [4, 4],
        skip_tokens: 1,
      }),
  ];

  /** The service's resident memory, from its /metrics (no /proc access needed). */
  async function residentBytes(): Promise<number> {
    const text = await (await fetch(`${url}/metrics`)).text();
    heapSamples.push(
      Math.round(Number(/^saeserve_heap_used_bytes (\d+)/m.exec(text)?.[1] ?? NaN) / 2 ** 20),
    );
    return Number(/^saeserve_resident_bytes (\d+)/m.exec(text)?.[1] ?? NaN);
  }

  /** Send one request; maybe disconnect on purpose; classify the answer. */
  async function send(
    req: { path: string; init: RequestInit },
    options: { disconnectAfterMs?: number; timings?: number[] },
  ): Promise<void> {
    const abort = new AbortController();
    const guard = setTimeout(() => abort.abort("hung"), deadlineMs + 5000);
    const cut = options.disconnectAfterMs === undefined
      ? undefined
      : setTimeout(() => abort.abort("disconnect"), options.disconnectAfterMs);
    const started = performance.now();
    try {
      const res = await fetch(url + req.path, { ...req.init, signal: abort.signal });
      const text = await res.text();
      const ms = performance.now() - started;
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status === 503 && !/deadline|client closed|over capacity|waiting/.test(text)) {
        unexpected503.push(`${req.path}: ${text.slice(0, 200)}`);
      }
      if (res.status >= 500 && res.status !== 503) {
        serverErrors.push(`${req.path} ${res.status}: ${text.slice(0, 200)}`);
      }
      if (res.ok) options.timings?.push(ms);
    } catch (e) {
      if (abort.signal.reason === "disconnect") disconnected++;
      else if (abort.signal.reason === "hung") hung++;
      else serverErrors.push(`${req.path}: ${(e as Error).message}`);
    } finally {
      clearTimeout(guard);
      clearTimeout(cut);
    }
  }

  /** The mixed traffic for `seconds` (research disconnects on or off), with a /healthz probe. */
  async function traffic(seconds: number, disconnects: boolean): Promise<void> {
    const end = performance.now() + seconds * 1000;
    const clients: Promise<void>[] = [];
    for (let i = 0; i < (options.liveClients ?? 4); i++) {
      clients.push((async () => {
        while (performance.now() < end) {
          await send(live[Math.floor(rand() * live.length)](), { timings: liveMs });
        }
      })());
    }
    for (let i = 0; i < (options.researchClients ?? 3); i++) {
      clients.push((async () => {
        while (performance.now() < end) {
          const disconnect = disconnects && rand() < 0.25 ? 50 + rand() * 1500 : undefined;
          await send(research[Math.floor(rand() * research.length)](), {
            disconnectAfterMs: disconnect,
          });
        }
      })());
    }
    clients.push((async () => {
      while (performance.now() < end) {
        await new Promise((r) => setTimeout(r, 5000));
        rssSamples.push(Math.round((await residentBytes()) / 2 ** 20));
      }
    })());
    clients.push((async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const res = await fetch(`${url}/healthz`);
        await res.body?.cancel();
        healthMs.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 50));
      }
    })());
    await Promise.all(clients);
  }

  // Warm up with the same mix (the service reaches its working size: V8 heaps, connection
  // buffers, kernel memory), then take the starting memory: the run must not grow it.
  await traffic(options.warmupSeconds ?? 10, true);
  await new Promise((r) => setTimeout(r, options.settleMs ?? 2000));
  const rssStart = await residentBytes();
  for (const key of Object.keys(statuses)) delete statuses[key];
  liveMs.length = 0;
  healthMs.length = 0;

  await traffic(options.seconds, true);

  // Memory after the traffic, as long after it as the start was after the warm-up.
  await new Promise((r) => setTimeout(r, options.settleMs ?? 2000));
  const rssEnd = await residentBytes();
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const replaced = [...metrics.matchAll(/^saeserve_jobs_\w+_workers_replaced (\d+)/gm)]
    .reduce((sum, m) => sum + Number(m[1]), 0);

  // SIGTERM with requests in flight: each is answered or its connection closes; exit is prompt.
  const atShutdown: Record<string, number> = {};
  const inFlight = [...research, ...live].map(async (make) => {
    const req = make();
    try {
      const res = await fetch(url + req.path, req.init);
      await res.body?.cancel();
      atShutdown[res.status] = (atShutdown[res.status] ?? 0) + 1;
    } catch {
      atShutdown.closed = (atShutdown.closed ?? 0) + 1;
    }
  });
  await new Promise((r) => setTimeout(r, 500));
  const t = performance.now();
  const exit = await service.stop();
  const shutdownMs = performance.now() - t;
  await Promise.all(inFlight);

  healthMs.sort((a, b) => a - b);
  liveMs.sort((a, b) => a - b);
  return {
    statuses,
    disconnected,
    hung,
    unexpected503,
    server_errors: serverErrors,
    healthz: {
      count: healthMs.length,
      p50_ms: quantile(healthMs, 0.5),
      p99_ms: quantile(healthMs, 0.99),
      max_ms: healthMs.at(-1) ?? 0,
    },
    live: { count: liveMs.length, p50_ms: quantile(liveMs, 0.5), p99_ms: quantile(liveMs, 0.99) },
    rss_start_mb: rssStart / 2 ** 20,
    rss_end_mb: rssEnd / 2 ** 20,
    rss_samples_mb: rssSamples,
    heap_samples_mb: heapSamples,
    workers_replaced: replaced,
    shutdown_ms: shutdownMs,
    exit_code: exit.code,
    at_shutdown: atShutdown,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "300" },
      seed: { type: "string", default: "1" },
    },
  });
  console.log(
    JSON.stringify(
      await runChaos({ seconds: Number(values.seconds), seed: Number(values.seed) }),
      null,
      2,
    ),
  );
}
