/**
 * saeserve entry point: read the environment, open the store, pick the compute backend,
 * serve the HTTP app. `deno task start`.
 * @module
 */

import type { Backend } from "./domain/backend.ts";
import { type Config, readConfig } from "./domain/config.ts";
import { backendSet } from "./domain/backend_set.ts";
import { Counter, MetricsRegistry } from "./domain/prometheus.ts";
import { referenceBackend } from "./domain/reference_backend.ts";
import { Registry } from "./domain/registry.ts";
import { openStore } from "./domain/store/mod.ts";
import { createApp } from "./routes/mod.ts";
import { hasHardwareAdapter, webgpuBackend } from "./gpu/mod.ts";
import { wasmBackend } from "./wasm/mod.ts";

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
  config: Pick<Config, "backend" | "threads" | "weights" | "allowBackendOverride">,
  options: { metrics: MetricsRegistry },
): Promise<Backends> {
  const wasm = () => wasmBackend({ threads: config.threads, weights: config.weights });
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

/** Build and start the service; resolves to the running server. */
export async function startService(config: Config): Promise<Deno.HttpServer> {
  const store = openStore(config.store, Deno.env.toObject());
  const metrics = new MetricsRegistry();
  const { backend, chooseBackend } = await selectBackend(config, { metrics });
  const registry = new Registry(store, { backend, memoryBudget: config.memoryBudget, metrics });
  const app = createApp(
    { registry, backend, metrics, maxBodyBytes: config.maxBodyBytes, chooseBackend },
    { memoryBudget: config.memoryBudget },
  );
  return Deno.serve({
    port: config.port,
    hostname: config.host,
    onListen: ({ hostname, port }) => {
      console.log(
        `saeserve on http://${hostname}:${port} store=${store.describe} backend=${backend.name}`,
      );
    },
  }, app.fetch);
}

if (import.meta.main) {
  const config = readConfig(Deno.env.toObject(), { totalMemory: Deno.systemMemoryInfo().total });
  const server = await startService(config);
  // Kernel workers keep the process alive: exit once the server has drained.
  const stop = () => server.shutdown().then(() => Deno.exit(0));
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}
