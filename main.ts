/**
 * saeserve entry point: read the environment, open the store, pick the compute backend,
 * serve the HTTP app. `deno task start`.
 * @module
 */

import type { Backend } from "./backends/backend.ts";
import { type Config, readConfig } from "./service/config.ts";
import { backendSet } from "./backends/backend_set.ts";
import { batchingBackend } from "./backends/batching.ts";
import { Counter, Histogram, MetricsRegistry } from "./service/prometheus.ts";
import { referenceBackend } from "./backends/reference/mod.ts";
import { Registry } from "./service/registry.ts";
import { openStore } from "./service/store/mod.ts";
import { apiKeyAuth } from "./routes/auth.ts";
import { createApp } from "./routes/mod.ts";
import { JobRunner } from "./service/jobs/mod.ts";
import { hasHardwareAdapter, webgpuBackend } from "./backends/gpu/mod.ts";
import { wasmBackend } from "./backends/wasm/mod.ts";

/** What {@link selectBackend} builds: the service's backend and, if allowed, a per-request chooser. */
export interface Backends {
  readonly backend: Backend;
  readonly chooseBackend?: (name: string) => Backend;
}

/**
 * The backend for a $SAESERVE_BACKEND choice. A GPU backend is wrapped in a set that fails
 * over to WASM (logged, counted in saeserve_backend_failovers_total) and restarts the GPU in
 * the background; with $SAESERVE_ALLOW_BACKEND_OVERRIDE=1 every available backend joins the
 * set so a request can name one.
 */
export async function selectBackend(
  config: Pick<
    Config,
    "backend" | "threads" | "weights" | "allowBackendOverride" | "kernelWatchdogMs"
  >,
  options: { metrics: MetricsRegistry },
): Promise<Backends> {
  const replacements = options.metrics.add(
    new Counter(
      "saeserve_kernel_pool_replacements_total",
      "WASM kernel pools replaced by the watchdog (a round made no progress) or a dead worker.",
    ),
  );
  const wasm = () =>
    wasmBackend({
      threads: config.threads,
      weights: config.weights,
      watchdogMs: config.kernelWatchdogMs,
      onReplaced: (reason) => {
        replacements.inc();
        console.warn(`saeserve: kernel pool replaced (${reason})`);
      },
    });
  let gpu: Backend | null = null;
  let requireHardware = false;
  if (config.backend === "webgpu") gpu = await webgpuBackend({ weights: config.weights });
  if (config.backend === "auto" && await hasHardwareAdapter()) {
    requireHardware = true;
    gpu = await webgpuBackend({ requireHardware, weights: config.weights }).catch((e) => {
      console.warn(`saeserve: WebGPU failed to start (${(e as Error).message}); using wasm`);
      return null;
    });
  }
  const primary = gpu ?? (config.backend === "reference" ? referenceBackend() : await wasm());
  if (!gpu && !config.allowBackendOverride) return { backend: primary };
  const failovers = options.metrics.add(
    new Counter(
      "saeserve_backend_failovers_total",
      "Requests moved from the GPU to the WASM backend after a GPU failure.",
    ),
  );
  const fallback = gpu ? await wasm() : undefined;
  const others: Backend[] = [];
  if (config.allowBackendOverride) {
    if (primary.name !== "reference") others.push(referenceBackend());
    if (!fallback && primary.name !== "wasm") others.push(await wasm());
    if (!gpu) {
      others.push(...await webgpuBackend({ weights: config.weights }).then((b) => [b], () => []));
    }
  }
  const set = backendSet(primary, {
    fallback,
    others,
    restart: gpu ? () => webgpuBackend({ requireHardware, weights: config.weights }) : undefined,
    onFailover: (reason) => {
      failovers.inc();
      console.warn(`saeserve: GPU failed (${reason}); serving on wasm while it restarts`);
    },
    onRecovered: () => console.warn("saeserve: GPU restarted; serving on webgpu again"),
  });
  return {
    backend: set,
    chooseBackend: config.allowBackendOverride ? (name) => set.use(name) : undefined,
  };
}

/** A running service: the server and a graceful stop. */
export interface Service {
  readonly server: Deno.HttpServer;
  /** Readiness off, let in-flight requests finish (up to the grace period), release workers. */
  stop(): Promise<void>;
}

/** Build and start the service. */
export async function startService(config: Config): Promise<Service> {
  const env = Deno.env.toObject();
  const store = openStore(config.store, env);
  const metrics = new MetricsRegistry();
  const selected = await selectBackend(config, { metrics });
  const batchRows = metrics.add(
    new Histogram("saeserve_batch_rows", "Rows per kernel call after micro-batching.", [
      1,
      2,
      4,
      8,
      16,
      32,
      64,
      128,
      256,
      512,
    ]),
  );
  const queueRows = metrics.add(
    new Histogram("saeserve_queue_rows", "Rows left waiting when a batch starts.", [
      0,
      1,
      4,
      16,
      64,
      256,
      1024,
      4096,
    ]),
  );
  const backend = config.batching.enabled
    ? batchingBackend(selected.backend, {
      ...config.batching,
      onBatch: (rows, queued) => {
        batchRows.observe(rows);
        queueRows.observe(queued);
      },
    })
    : selected.backend;
  const keys = [...config.apiKeys];
  if (config.apiKeysFile) {
    const text = await Deno.readTextFile(config.apiKeysFile);
    keys.push(
      ...text.split("\n").map((k) => k.trim()).filter((k) => k !== "" && !k.startsWith("#")),
    );
  }
  const auth = keys.length
    ? await apiKeyAuth({
      keys,
      ratePerMinute: config.rateLimitPerMinute,
      failuresPerMinute: config.authFailuresPerMinute,
    })
    : undefined;
  const registry = new Registry(store, { backend, memoryBudget: config.memoryBudget, metrics });
  const jobs = new JobRunner({ workers: config.jobWorkers });
  let draining = false;
  const encoder = new TextEncoder();
  const app = createApp(
    {
      registry,
      backend,
      metrics,
      jobs,
      maxBodyBytes: config.maxBodyBytes,
      limits: config.limits,
      chooseBackend: selected.chooseBackend,
      auth,
      protectMetrics: config.protectMetrics,
      requestTimeoutMs: config.requestTimeoutMs,
      log: config.requestLogs
        ? (line) => Deno.stdout.writeSync(encoder.encode(JSON.stringify(line) + "\n"))
        : undefined,
      draining: () => draining,
    },
    { memoryBudget: config.memoryBudget },
  );
  const server = Deno.serve({
    port: config.port,
    hostname: config.host,
    onListen: ({ hostname, port }) => {
      console.log(
        `saeserve on http://${hostname}:${port} store=${store.describe} backend=${backend.name}` +
          (keys.length ? ` keys=${keys.length}` : ""),
      );
    },
  }, app.fetch);
  return {
    server,
    async stop(): Promise<void> {
      draining = true;
      await Promise.race([
        server.shutdown(),
        new Promise((r) => setTimeout(r, config.shutdownGraceMs)),
      ]);
      jobs.close();
      registry.close();
      backend.close?.();
    },
  };
}

if (import.meta.main) {
  const config = readConfig(Deno.env.toObject(), { totalMemory: Deno.systemMemoryInfo().total });
  const service = await startService(config);
  // Kernel workers keep the process alive: exit once in-flight requests are done.
  const stop = () => service.stop().then(() => Deno.exit(0));
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}
