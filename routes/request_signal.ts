/**
 * The abort signal of a request: aborted when its deadline passes, when the client goes away
 * or at shutdown. Handlers hand it to backend calls and jobs so abandoned work stops.
 * @module
 */

import type { Context } from "hono";

const KEY = "saeserve.signal";

/** Attach `signal` to the request (done once, by the app's first middleware). */
export function setRequestSignal(c: Context, signal: AbortSignal): void {
  c.set(KEY as never, signal as never);
}

/** The request's signal (a never-aborted one outside the app's middleware). */
export function requestSignal(c: Context): AbortSignal {
  return (c.get(KEY as never) as AbortSignal | undefined) ?? NEVER;
}

const NEVER = new AbortController().signal;
