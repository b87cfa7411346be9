/**
 * The service as the clients' retry tests need it: the demo store, and a batching queue of one
 * row that holds each call 300 ms, so a steer arriving while another waits is answered 429 with
 * Retry-After: 1 (README "Serving under load").
 * @module
 */

import { type RunningService, startService } from "./service_process.ts";

/** The demo dictionaries' folder. */
export const DEMO_STORE: string = new URL("../dictionaries", import.meta.url).pathname;

/** Batching settings that make concurrent calls on one dictionary over capacity. */
export const BUSY_QUEUE: Readonly<Record<string, string>> = {
  SAESERVE_QUEUE_MAX_ROWS: "1",
  SAESERVE_BATCH_MAX_ROWS: "1",
  SAESERVE_BATCH_WAIT_MS: "300",
};

/** Start the service on the demo store, with the one-row queue when `busy`. */
export function startDemoService(
  options: { busy?: boolean } = {},
): Promise<RunningService> {
  return startService({
    SAESERVE_STORE: `file://${DEMO_STORE}`,
    SAESERVE_LOG: "off",
    ...(options.busy ? BUSY_QUEUE : {}),
  });
}
