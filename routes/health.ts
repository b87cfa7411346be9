/**
 * GET /healthz (process up and able to compute), GET /readyz (store reachable, backend initialised) and
 * GET /metrics (Prometheus text).
 * @module
 */

import { Gauge, LabelledGauge } from "../service/prometheus.ts";
import type { AppDeps } from "./deps.ts";
import { type Backend, BACKEND_NAMES } from "../backends/backend.ts";
import { SaeError } from "../domain/errors.ts";
import { holdsValidKey } from "./auth.ts";
import { errorResponse, problemResponse } from "./problem.ts";
import { AUTH_STATUSES, type Operation, problems } from "./operation.ts";
import { HealthSchema, ReadySchema } from "./response_schemas.ts";

/** Longest wait for the store's answer at /readyz (Kubernetes probes time out after seconds). */
export const READY_PING_MS = 2000;

/** Health, readiness and metrics operations; registers the registry and job gauges. */
export function healthOperations(
  deps: AppDeps,
  options: { memoryBudget: number },
): Operation[] {
  const { registry, metrics } = deps;
  // One store check at a time: probes arriving while a slow one runs share it (a store that
  // never answers would otherwise collect a connection per probe until each gives up).
  let pinging: Promise<void> | null = null;
  const ping = (): Promise<void> =>
    pinging ??= registry.store.ping().finally(() => {
      pinging = null;
    });
  metrics.add(
    new Gauge(
      "saeserve_dictionaries_loaded",
      "Entries in memory: dictionaries, model heads and aligned dictionaries " +
        "(saeserve_dictionary_loaded lists the dictionaries alone).",
      () => registry.loadedCount,
    ),
  );
  metrics.add(
    new LabelledGauge(
      "saeserve_dictionary_loaded",
      "1 for each dictionary this replica holds in memory (which replica a proxy routes it to).",
      () => registry.loadedDictionaries().map((id) => [{ dictionary: id }, 1] as const),
    ),
  );
  metrics.add(
    new Gauge(
      "saeserve_dictionary_bytes",
      "Bytes held by loaded dictionaries.",
      () => registry.bytesLoaded,
    ),
  );
  metrics.add(
    new Gauge(
      "saeserve_memory_budget_bytes",
      "Configured memory budget.",
      () => options.memoryBudget,
    ),
  );
  metrics.add(
    new Gauge(
      "saeserve_resident_bytes",
      "Resident memory of the process.",
      () => Deno.memoryUsage().rss,
    ),
  );
  metrics.add(
    new Gauge(
      "saeserve_heap_used_bytes",
      "JavaScript heap in use on the request thread.",
      () => Deno.memoryUsage().heapUsed,
    ),
  );

  for (const priority of ["live", "research"] as const) {
    metrics.add(
      new Gauge(
        `saeserve_jobs_${priority}_queued`,
        `${priority} jobs waiting for a worker.`,
        () => deps.jobs.stats(priority).queued,
      ),
    );
    metrics.add(
      new Gauge(
        `saeserve_jobs_${priority}_running`,
        `${priority} jobs running on a worker.`,
        () => deps.jobs.stats(priority).running,
      ),
    );
    metrics.add(
      new Gauge(
        `saeserve_jobs_${priority}_abandoned`,
        `${priority} jobs abandoned (deadline, shutdown) whose worker has not stopped yet.`,
        () => deps.jobs.stats(priority).abandoned,
      ),
    );
    metrics.add(
      new Gauge(
        `saeserve_jobs_${priority}_workers_replaced`,
        `${priority} job workers terminated (abandoned or failed jobs) since start.`,
        () => deps.jobs.stats(priority).replaced,
      ),
    );
  }

  return [{
    method: "get",
    path: "/healthz",
    tag: "process",
    summary: "Liveness: the process is up and able to compute",
    description: "503 while the backend cannot compute (a kernel pool stuck and not yet replaced).",
    responses: {
      200: { description: "up", content: { "application/json": HealthSchema } },
      ...problems(503),
    },
    // Answered by the request thread, which never computes.
    handler: (c) => {
      const health = deps.backend.health?.() ?? { healthy: true };
      if (!health.healthy) {
        return problemResponse(c, {
          status: 503,
          detail: `cannot compute: ${health.detail ?? "backend unhealthy"}`,
        });
      }
      return c.json({ status: "ok" });
    },
  }, {
    method: "get",
    path: "/readyz",
    tag: "process",
    summary: "Readiness: store reachable, backend initialised, not shutting down",
    description: "The store's location is shown only to a caller holding a valid key; everyone " +
      "else, and everyone on an open service, sees its kind.",
    responses: {
      200: { description: "ready", content: { "application/json": ReadySchema } },
      ...problems(503),
    },
    handler: async (c) => {
      if (deps.draining?.()) return problemResponse(c, { status: 503, detail: "shutting down" });
      const store = registry.store.describe;
      const kind = /^[a-z][a-z0-9+.-]*(?=:)/i.exec(store)?.[0].toLowerCase() ?? "unknown";
      const trusted = await holdsValidKey(deps.auth, c);
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        // A store that takes connections but never answers: readiness says so in seconds (a
        // probe's timeout), not at the request deadline.
        const silent = new Promise<never>((_, reject) =>
          timer = setTimeout(
            () =>
              reject(
                new SaeError(
                  "unavailable",
                  `the ${kind} store did not answer within ${READY_PING_MS / 1000} s`,
                ),
              ),
            READY_PING_MS,
          )
        );
        await Promise.race([ping(), silent]);
      } catch (e) {
        // A store's own message names its location; an unexpected error's 500 never does.
        if (trusted || !(e instanceof SaeError)) return errorResponse(c, e);
        return problemResponse(c, { status: 503, detail: `the ${kind} store is unavailable` });
      } finally {
        clearTimeout(timer);
      }
      return c.json({
        status: "ready",
        backend: deps.backend.name,
        backends: devices(deps),
        store: kind,
        ...(trusted ? { store_location: store } : {}),
      });
    },
  }, {
    method: "get",
    path: "/metrics",
    tag: "process",
    summary: "Prometheus metrics",
    description: "Needs a key when SAESERVE_PROTECT_METRICS is set (401 / 403 / 429 then).",
    responses: {
      200: { description: "Prometheus text", content: { "text/plain": "exposition format 0.0.4" } },
      ...problems(...AUTH_STATUSES),
    },
    handler: (c) => c.body(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }),
  }];
}

/** Each usable backend's device, the default first (for /readyz). */
function devices(deps: AppDeps): Record<string, { adapter: string; software_adapter: boolean }> {
  const out: Record<string, { adapter: string; software_adapter: boolean }> = {};
  const add = (backend: Backend) => {
    if (out[backend.name]) return;
    const device = backend.device?.() ?? { adapter: "not reported", software: false };
    out[backend.name] = { adapter: device.adapter, software_adapter: device.software };
  };
  add(deps.backend);
  for (const name of BACKEND_NAMES) {
    if (!deps.chooseBackend || name === deps.backend.name) continue;
    try {
      add(deps.chooseBackend(name));
    } catch { /* not available on this service */ }
  }
  return out;
}
