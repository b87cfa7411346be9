/**
 * saeserve entry point: read the environment, open the store, pick the compute backend,
 * serve the HTTP app. `deno task start`.
 * @module
 */

import type { Backend } from "./domain/backend.ts";
import { type BackendChoice, type Config, readConfig } from "./domain/config.ts";
import { MetricsRegistry } from "./domain/prometheus.ts";
import { referenceBackend } from "./domain/reference_backend.ts";
import { Registry } from "./domain/registry.ts";
import { openStore } from "./domain/store/mod.ts";
import { createApp } from "./routes/mod.ts";

/** The backend for a $SAESERVE_BACKEND choice. */
export function selectBackend(choice: BackendChoice): Backend {
  switch (choice) {
    case "reference":
    case "auto":
      // auto: WebGPU on a real adapter, else WASM, once those backends exist; until then the
      // reference backend serves every request.
      return referenceBackend();
    default:
      throw new Error(`backend ${choice} is not available in this build`);
  }
}

/** Build and start the service; resolves to the running server. */
export function startService(config: Config): Deno.HttpServer {
  const store = openStore(config.store, Deno.env.toObject());
  const backend = selectBackend(config.backend);
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
  const server = startService(config);
  Deno.addSignalListener("SIGTERM", () => server.shutdown());
  Deno.addSignalListener("SIGINT", () => server.shutdown());
}
