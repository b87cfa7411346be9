/**
 * The abort signal of a request: aborted when its deadline passes, when the client goes away
 * or at shutdown. Handlers hand it to backend calls and jobs so abandoned work stops.
 * @module
 */

import type { AppContext } from "./env.ts";

/** Attach `signal` to the request (done once, by the app's first middleware). */
export function setRequestSignal(c: AppContext, signal: AbortSignal): void {
  c.set("signal", signal);
}

/** The request's signal (a never-aborted one outside the app's middleware). */
export function requestSignal(c: AppContext): AbortSignal {
  return c.get("signal") ?? NEVER;
}

const NEVER = new AbortController().signal;
