/**
 * What the routes need from the rest of the service, built once in main.ts (or a test).
 * @module
 */

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";
import type { Backend } from "../backends/backend.ts";
import type { Limits } from "../domain/cost.ts";
import type { MetricsRegistry } from "../service/prometheus.ts";
import type { Registry } from "../service/registry.ts";
import type { JobRunner } from "../service/jobs/mod.ts";

/** Dependencies of the HTTP app. */
export interface AppDeps {
  readonly registry: Registry;
  readonly backend: Backend;
  readonly metrics: MetricsRegistry;
  /** Worker pools for the work routes do off the request thread (probes, circuits, maps...). */
  readonly jobs: JobRunner;
  /** Largest request body accepted, in bytes ($SAESERVE_MAX_BODY_MB). */
  readonly maxBodyBytes: number;
  /** Cost budgets checked before work starts; absent ones take `DEFAULT_LIMITS` (domain/cost.ts). */
  readonly limits?: Partial<Limits>;
  /**
   * Present when $SAESERVE_ALLOW_BACKEND_OVERRIDE=1: the backend a request names in
   * X-Saeserve-Backend (SaeError "invalid" for one the service does not have).
   */
  readonly chooseBackend?: (name: string) => Backend;
  /** API-key middleware for /v1 (and /metrics when `protectMetrics`); absent: open service. */
  readonly auth?: MiddlewareHandler<AppEnv>;
  readonly protectMetrics?: boolean;
  /** Origins a browser page may call from ($SAESERVE_CORS_ORIGINS; ["*"]: any; absent: none). */
  readonly corsOrigins?: readonly string[];
  /** Per-request deadline ($SAESERVE_REQUEST_TIMEOUT_MS): 503 when exceeded. */
  readonly requestTimeoutMs?: number;
  /** Structured log sink (one object per request); absent: no request logs. */
  readonly log?: (line: Record<string, unknown>) => void;
  /** True once shutdown has begun (readiness turns false). */
  readonly draining?: () => boolean;
}
