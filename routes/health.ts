/**
 * GET /healthz (process up), GET /readyz (store reachable, backend initialised) and
 * GET /metrics (Prometheus text).
 * @module
 */

import { Hono } from "hono";
import { Gauge } from "../domain/prometheus.ts";
import type { AppDeps } from "./deps.ts";
import { errorResponse, problemResponse } from "./problem.ts";

/** Health, readiness and metrics routes; registers the registry gauges. */
export function healthRoutes(deps: AppDeps, options: { memoryBudget: number }): Hono {
  const app = new Hono();
  const { registry, metrics } = deps;
  metrics.add(
    new Gauge(
      "saeserve_dictionaries_loaded",
      "Dictionaries in memory.",
      () => registry.loadedCount,
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

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    if (deps.draining?.()) return problemResponse(c, 503, "shutting down");
    try {
      await registry.store.ping();
    } catch (e) {
      return errorResponse(c, e);
    }
    return c.json({ status: "ready", backend: deps.backend.name, store: registry.store.describe });
  });
  app.get(
    "/metrics",
    (c) => c.body(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }),
  );
  return app;
}
