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
import { hasHardwareAdapter, webgpuBackend } from "./gpu/mod.ts";
import { wasmBackend } from "./wasm/mod.ts";

/** The backend for a $SAESERVE_BACKEND choice. */
export async function selectBackend(
  config: Pick<Config, "backend" | "threads" | "weights">,
): Promise<Backend> {
  switch (config.backend) {
    case "reference":
      return referenceBackend();
    case "webgpu":
      return await webgpuBackend();
    case "auto":
      // A real GPU when there is one; the software adapter is slower than the WASM kernels.
      if (await hasHardwareAdapter()) {
        try {
          return await webgpuBackend({ requireHardware: true });
        } catch (e) {
          console.warn(`saeserve: WebGPU failed to start (${(e as Error).message}); using wasm`);
        }
      }
      return await wasmBackend({ threads: config.threads, weights: config.weights });
    case "wasm":
      return await wasmBackend({ threads: config.threads, weights: config.weights });
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
