/**
 * What the routes need from the rest of the service, built once in main.ts (or a test).
 * @module
 */

import type { Backend } from "../domain/backend.ts";
import type { MetricsRegistry } from "../domain/prometheus.ts";
import type { Registry } from "../domain/registry.ts";

/** Dependencies of the HTTP app. */
export interface AppDeps {
  readonly registry: Registry;
  readonly backend: Backend;
  readonly metrics: MetricsRegistry;
  /** Largest request body accepted, in bytes ($SAESERVE_MAX_BODY_MB). */
  readonly maxBodyBytes: number;
  /**
   * Present when $SAESERVE_ALLOW_BACKEND_OVERRIDE=1: the backend a request names in
   * X-Saeserve-Backend (SaeError "invalid" for one the service does not have).
   */
  readonly chooseBackend?: (name: string) => Backend;
}
