/**
 * What long loops poll to stop early. An AbortSignal is one; a job worker passes a flag in
 * shared memory that the request thread sets while the worker is busy.
 * @module
 */

/** Throws the abandonment reason once the work is no longer wanted. */
export interface Cancellation {
  throwIfAborted(): void;
}
