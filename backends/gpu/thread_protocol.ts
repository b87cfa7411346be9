/**
 * Messages between the WebGPU backend's proxy on the request thread (gpu/thread.ts) and the
 * worker that holds the device (gpu/thread_worker.ts).
 * @module
 */

import type { DeviceInfo, WorkClass } from "../backend.ts";
import type { WireError } from "../../domain/errors.ts";
import type { Precision } from "../../domain/precision.ts";
import type { Matrix, SparseRows } from "../../domain/sae/matrix.ts";
import type { WebGpuBackendOptions } from "./mod.ts";

/** The backend methods the worker serves. */
export type GpuMethod =
  | "prepare"
  | "release"
  | "encode"
  | "decodeSparse"
  | "decodeDense"
  | "steer"
  | "matmul"
  | "topK";

/** A call: prepared dictionaries travel as their id; options without signals. */
export interface GpuCall {
  readonly id: number;
  readonly method: GpuMethod;
  readonly args: readonly unknown[];
  /** Queue class: waiting live calls run before waiting research calls. */
  readonly priority: WorkClass;
}

/** The first message: open the device. */
export interface GpuOpen {
  readonly id: 0;
  readonly open: WebGpuBackendOptions;
}

/** Drop call `cancel` if it has not started (its caller was answered at once). */
export interface GpuCancel {
  readonly cancel: number;
}

/** Destroy the device and answer `closed`; the proxy then terminates the worker. */
export interface GpuClose {
  readonly close: true;
}

/** What the worker reports once its device is open. */
export interface GpuOpened {
  readonly name: "webgpu";
  readonly adapter: string;
  readonly fallbackAdapter: boolean;
  readonly device: DeviceInfo;
  readonly maxBinding: number;
  readonly precision: Precision;
}

/** The worker's answers, and its report of a lost device. */
export type GpuReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: WireError }
  | { readonly lost: string }
  | { readonly closed: true };

// Matrices cross threads moved, not cloned: Deno serialises a cloned typed array byte by byte
// (a 9.4 MB Float32Array took 43 ms to clone to a worker and back here, 1.5 ms copied and
// moved; on the H200 host, 1024 rows cost the threaded encode 32 ms against 12.7 in-process).

/** A copy of `m` whose data is listed in `transfer`, to be moved to the other thread. */
export function movedMatrix(m: Matrix, transfer: Transferable[]): Matrix {
  const data = m.data.slice();
  transfer.push(data.buffer);
  return { rows: m.rows, cols: m.cols, data };
}

/**
 * `s` packed into one index and one value buffer (each row a view of them), both listed in
 * `transfer`: two buffers move where a row's own arrays would be cloned or moved one by one.
 */
export function movedRows(s: SparseRows, transfer: Transferable[]): SparseRows {
  let total = 0;
  for (const row of s.indices) total += row.length;
  const allIndices = new Int32Array(total);
  const allValues = new Float32Array(total);
  const indices: Int32Array[] = [];
  const values: Float32Array[] = [];
  let at = 0;
  for (let r = 0; r < s.indices.length; r++) {
    const n = s.indices[r].length;
    allIndices.set(s.indices[r], at);
    allValues.set(s.values[r], at);
    indices.push(allIndices.subarray(at, at + n));
    values.push(allValues.subarray(at, at + n));
    at += n;
  }
  transfer.push(allIndices.buffer, allValues.buffer);
  return { width: s.width, indices, values };
}
