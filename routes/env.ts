/**
 * The Hono environment of the app: the typed per-request variables handlers and middleware
 * share (`c.set` / `c.get`).
 * @module
 */

import type { Context } from "hono";

/** Per-request variables. */
export interface AppVariables {
  /** The request's abort signal (deadline, client gone, shutdown); see request_signal.ts. */
  signal?: AbortSignal;
  /** Activation rows of a compute request, for the request log. */
  rows?: number;
  /** Index of the API key that authenticated the request (never the key itself). */
  keyId?: number;
}

/** The app's Hono environment. */
export interface AppEnv {
  Variables: AppVariables;
}

/** A request context of the app. */
export type AppContext = Context<AppEnv>;
