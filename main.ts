/**
 * saeserve entry point: read the environment, open the store, pick the compute backend,
 * serve the HTTP app. `deno task start`.
 * @module
 */

import type { Backend } from "./domain/backend.ts";
import { type Config, readConfig } from "./domain/config.ts";
import { MetricsRegistry } from "./domain/prometheus.ts";
import { referenceBackend } from "./domain/reference_backend.ts";
import { Registry } from "./domain/registry.ts";
import { openStore } from "./domain/store/mod.ts";
import { createApp } from "./routes/mod.ts";
import { wasmBackend } from "./wasm/mod.ts";

/** Whether a real (non-fallback) WebGPU adapter exists. */
async function hasRealGpu(): Promise<boolean> {
  try {
    const adapter = await navigator.gpu?.requestAdapter();
    return adapter !== null && adapter !== undefined && !adapter.info.isFallbackAdapter;
  } catch {
    return false;
  }
}

/** The backend for a $SAESERVE_BACKEND choice. */
export async function selectBackend(
  config: Pick<Config, "backend" | "threads" | "weights">,
): Promise<Backend> {
  switch (config.backend) {
    case "reference":
      return referenceBackend();
    case "auto":
      if (await hasRealGpu()) {
        console.warn(
          "saeserve: a GPU adapter exists, but the webgpu backend is not built yet; using wasm",
        );
      }
      return await wasmBackend({ threads: config.threads, weights: config.weights });
    case "wasm":
      return await wasmBackend({ threads: config.threads, weights: config.weights });
    default:
      throw new Error(`backend ${config.backend} is not available in this build`);
  }
}

/** Build and start the service; resolves to the running server. */
export async function startService(config: Config): Promise<Deno.HttpServer> {
  const store = openStore(config.store, Deno.env.toObject());
  const backend = await selectBackend(config);
  const metrics = new MetricsRegistry();
  const registry = new Registry(store, { backend, memoryBudget: config.memoryBudget, metrics });
  const app = createApp(
    { registry, backend, metrics, maxBodyBytes: config.maxBodyBytes },
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
