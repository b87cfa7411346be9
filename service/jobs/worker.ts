/**
 * A job worker: runs one task of the table in `tasks.ts` at a time, as the runner posts them,
 * and answers with the result or a cloneable description of the error.
 * @module
 */

/// <reference lib="deno.worker" />

import { SaeError, wireError } from "../../domain/errors.ts";
import { type TaskContext, type TaskName, TASKS } from "./tasks.ts";
import type { JobReply, JobRequest } from "./protocol.ts";

/** What the runner can rebuild from a thrown value; an unexpected one is logged here. */
function describe(e: unknown): ReturnType<typeof wireError> {
  const wire = wireError(e);
  if (wire.name === "Error") console.error("job failed", e);
  return wire;
}

self.onmessage = async (e: MessageEvent<JobRequest>) => {
  const { id, task, args, cancel } = e.data;
  // The request thread cannot reach this busy thread's event loop; it sets a shared flag.
  const signal = {
    throwIfAborted(): void {
      if (Atomics.load(cancel, 0) !== 0) throw new SaeError("unavailable", "the job was abandoned");
    },
  };
  let reply: JobReply;
  const transfer: Transferable[] = [];
  try {
    const run = TASKS[task as TaskName] as (a: unknown, ctx: TaskContext) => unknown;
    if (!run) throw new RangeError(`no task ${task}`);
    const result = await run(args, { signal });
    // Bytes (an encoded image) move back rather than being copied on the request thread: only
    // a view over a whole buffer of its own, which nothing here keeps.
    if (
      ArrayBuffer.isView(result) && result.buffer instanceof ArrayBuffer &&
      result.byteOffset === 0 && result.byteLength === result.buffer.byteLength
    ) {
      transfer.push(result.buffer);
    }
    reply = { id, ok: true, result };
  } catch (error) {
    reply = { id, ok: false, error: describe(error) };
  }
  self.postMessage(reply, transfer);
  // A job leaves megabytes of garbage that V8 would otherwise keep until this isolate's heap
  // grows large; collect it now when the runtime allows (--v8-flags=--expose-gc).
  (globalThis as { gc?: () => void }).gc?.();
};
self.postMessage({ id: 0, ok: true, result: "ready" } satisfies JobReply);
