/**
 * Messages between the job runner and its workers.
 * @module
 */

import type { WireError } from "../../domain/errors.ts";

/** A task for a worker (id 0 is reserved for the worker's "ready"). */
export interface JobRequest {
  readonly id: number;
  readonly task: string;
  readonly args: unknown;
  /** One Int32 in shared memory the runner sets to 1 when the job is abandoned. */
  readonly cancel: Int32Array;
}

/** A worker's answer. */
export type JobReply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: WireError };
