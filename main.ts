/**
 * saeserve entry point: read the environment, open the store, pick the compute backend,
 * serve the HTTP app, then report the backend and what the store holds. `deno task start`.
 * @module
 */

import { type Config, KNOWN_VARIABLES, readConfig, unknownVariables } from "./service/config.ts";
import { SaeError } from "./domain/errors.ts";
import { serviceUrl, startupReport } from "./service/startup_report.ts";
import type { Backend } from "./backends/backend.ts";
import { batchingBackend } from "./backends/batching.ts";
import { selectBackend } from "./backends/select.ts";
import { Counter, Histogram, MetricsRegistry } from "./service/prometheus.ts";
import { Registry } from "./service/registry.ts";
import { openStore } from "./service/store/mod.ts";
import { apiKeyAuth } from "./routes/auth.ts";
import { createApp } from "./routes/mod.ts";
import { JobRunner } from "./service/jobs/mod.ts";
import { LineWriter } from "./service/line_writer.ts";
import { CliError, runCli } from "./cli/run.ts";

/** A running service: the server and a graceful stop. */
export interface Service {
  readonly server: Deno.HttpServer;
  /** Readiness off, let in-flight requests finish (up to the grace period), release workers. */
  stop(): Promise<void>;
}

/** Bytes as GiB with one decimal. */
function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/** Build and start the service. */
export async function startService(config: Config): Promise<Service> {
  const env = Deno.env.toObject();
  for (const name of unknownVariables(env)) {
    console.warn(`warning: ${name} is set but saeserve reads no such variable (a typo?)`);
  }
  const memory = Deno.systemMemoryInfo().total;
  if (config.memoryBudget > memory) {
    console.warn(
      `warning: SAESERVE_MEMORY_BUDGET (${gib(config.memoryBudget)}) is more than this ` +
        `machine's memory (${gib(memory)}): dictionaries are kept until the system runs out`,
    );
  }
  const store = openStoreNamed(config.store, env);
  const metrics = new MetricsRegistry();
  const replacements = metrics.add(
    new Counter(
      "saeserve_kernel_pool_replacements_total",
      "WASM kernel pools replaced by the watchdog (a round made no progress) or a dead worker.",
    ),
  );
  const failovers = metrics.add(
    new Counter(
      "saeserve_backend_failovers_total",
      "Requests moved from the GPU to the WASM backend after a GPU failure.",
    ),
  );
  const selected = await selectBackend(config, {
    onPoolReplaced: () => replacements.inc(),
    onFailover: () => failovers.inc(),
  });
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
    const text = await Deno.readTextFile(config.apiKeysFile).catch((e: Error) => {
      throw new SaeError(
        "invalid",
        `SAESERVE_API_KEYS_FILE ${config.apiKeysFile} cannot be read: ${e.message}`,
      );
    });
    const fromFile = text.split("\n").map((k) => k.trim()).filter((k) => k && !k.startsWith("#"));
    if (fromFile.length === 0) {
      // A key file is a request for keys: serving without any would open the service.
      throw new SaeError(
        "invalid",
        `SAESERVE_API_KEYS_FILE ${config.apiKeysFile} holds no key (only blank lines and # ` +
          "comments); unset it to run without keys",
      );
    }
    keys.push(...fromFile);
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
  const logs = new LineWriter();
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
      corsOrigins: config.corsOrigins,
      requestTimeoutMs: config.requestTimeoutMs,
      log: config.requestLogs ? (line) => logs.line(JSON.stringify(line)) : undefined,
      draining: () => draining,
    },
    { memoryBudget: config.memoryBudget },
  );
  const server = listen({
    port: config.port,
    hostname: config.host,
    onListen: ({ hostname, port }) => {
      console.log(
        `saeserve on ${
          serviceUrl(hostname, { port })
        } store=${store.describe} backend=${backend.name}` +
          (keys.length ? ` keys=${keys.length}` : ""),
      );
      // After listening: a slow remote store must not hold the start-up back.
      reportStartup(registry, backend).catch((e) => console.warn(`warning: ${e}`));
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
      logs.flush();
      jobs.close();
      registry.close();
      await backend.close?.();
      // Requests the closing backend dropped are answered 503 by now; let those answers leave.
      await new Promise((r) => setTimeout(r, 50));
    },
  };
}

/** Deno.serve, where a failure to listen (a port in use, a HOST that does not resolve) is one line naming HOST and PORT. */
function listen(
  options: Deno.ServeTcpOptions,
  handler: Deno.ServeHandler,
): Deno.HttpServer<Deno.NetAddr> {
  try {
    return Deno.serve(options, handler);
  } catch (e) {
    const message = (e as Error)?.message ?? String(e);
    throw new CliError(
      `cannot listen on HOST=${options.hostname} PORT=${options.port}: ${message}`,
    );
  }
}

/** Open $SAESERVE_STORE; a bad address is one line naming the variable. */
function openStoreNamed(url: string, env: Record<string, string>): ReturnType<typeof openStore> {
  try {
    return openStore(url, env);
  } catch (e) {
    if (!(e instanceof SaeError) || e.kind !== "invalid") throw e;
    throw new SaeError("invalid", `SAESERVE_STORE ${url}: ${e.message}`);
  }
}

/** Log the backend (and adapter) and what the store holds, warning when it holds nothing. */
async function reportStartup(registry: Registry, backend: Backend): Promise<void> {
  const adapter = backend.name === "webgpu" ? backend.device?.() : undefined;
  const report = await startupReport(registry, { backend: backend.name, adapter });
  for (const line of report.info) console.log(line);
  for (const line of report.warnings) console.warn(line);
}

/**
 * Start from the environment under the CLI error handler (a bad value or a missing store folder is
 * one `error:` line, exit 1); SIGTERM and SIGINT drain and exit 0. `main.ts` and the container
 * entry (cli/container.ts) both start this way.
 */
export async function serveFromEnvironment(): Promise<void> {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(usage());
    return;
  }
  await runCli("start", async () => {
    if (Deno.args.length) {
      throw new CliError(
        `saeserve takes no arguments (got ${Deno.args.join(" ")}); it is configured by ` +
          "environment variables: see --help",
      );
    }
    const config = readConfig(Deno.env.toObject(), { totalMemory: Deno.systemMemoryInfo().total });
    const service = await startService(config);
    // Kernel workers keep the process alive: exit once in-flight requests are done.
    const stop = () => service.stop().then(() => Deno.exit(0));
    Deno.addSignalListener("SIGTERM", stop);
    Deno.addSignalListener("SIGINT", stop);
  });
}

/** What `--help` prints: how to start, and the variables that configure the service. */
function usage(): string {
  return [
    "saeserve: serve sparse autoencoder dictionaries over HTTP.",
    "",
    "usage: PORT=8080 deno task start    (or: saeserve, the compiled binary)",
    "",
    "Configured by environment variables (defaults and meanings: README, Configuration):",
    ...["PORT", "HOST", ...KNOWN_VARIABLES].map((name) => `  ${name}`),
    "",
    "SIGTERM or SIGINT drains in-flight requests, then exits 0.",
  ].join("\n");
}

if (import.meta.main) await serveFromEnvironment();
