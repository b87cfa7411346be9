/**
 * Builds the real HTTP app over a real store for route tests (in-process requests, no mocks).
 * @module
 */

import type { Backend } from "../backends/backend.ts";
import { MetricsRegistry } from "../service/prometheus.ts";
import { referenceBackend } from "../backends/reference/mod.ts";
import { Registry } from "../service/registry.ts";
import { fileStore } from "../service/store/file.ts";
import type { Store } from "../service/store/mod.ts";
import { type AppDeps, createApp } from "../routes/mod.ts";
import { JobRunner } from "../service/jobs/mod.ts";

/** The fixture dictionaries written by tests/fixtures/make_fixtures.py. */
export const FIXTURE_DICTS = new URL("./fixtures/dicts", import.meta.url).pathname;

/** An app plus the registry, metrics and job runner behind it. */
export interface TestApp {
  readonly app: ReturnType<typeof createApp>;
  readonly registry: Registry;
  readonly metrics: MetricsRegistry;
  readonly jobs: JobRunner;
}

/** Build the app over `store` (fixtures by default). */
export function testApp(options?: {
  store?: Store;
  backend?: Backend;
  maxBodyBytes?: number;
  memoryBudget?: number;
  chooseBackend?: (name: string) => Backend;
  auth?: AppDeps["auth"];
  protectMetrics?: boolean;
  corsOrigins?: readonly string[];
  requestTimeoutMs?: number;
  log?: AppDeps["log"];
  limits?: AppDeps["limits"];
  draining?: AppDeps["draining"];
}): TestApp {
  const backend = options?.backend ?? referenceBackend();
  const metrics = new MetricsRegistry();
  const memoryBudget = options?.memoryBudget ?? 1 << 30;
  const registry = new Registry(options?.store ?? fileStore(FIXTURE_DICTS), {
    backend,
    memoryBudget,
    metrics,
  });
  const jobs = new JobRunner();
  const app = createApp(
    {
      registry,
      backend,
      metrics,
      jobs,
      maxBodyBytes: options?.maxBodyBytes ?? 64 << 20,
      chooseBackend: options?.chooseBackend,
      auth: options?.auth,
      protectMetrics: options?.protectMetrics,
      corsOrigins: options?.corsOrigins,
      requestTimeoutMs: options?.requestTimeoutMs,
      log: options?.log,
      limits: options?.limits,
      draining: options?.draining,
    },
    { memoryBudget },
  );
  return { app, registry, metrics, jobs };
}

/** Anything that answers in-process requests like a Hono app (whatever its environment type). */
export interface RequestTarget {
  request(input: string, init?: RequestInit): Response | Promise<Response>;
}

/** POST `body` as JSON (a string is sent as it is) to `path`. */
export function postJson(
  app: RequestTarget,
  request: { path: string; body: unknown },
): Promise<Response> {
  const { path, body } = request;
  return Promise.resolve(app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  }));
}
