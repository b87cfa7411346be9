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
import type { SpareBuffers } from "./spare_buffers.ts";

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
  /** Live calls in a row a waiting research call lets pass (backends/turn_order.ts). */
  readonly liveTurns?: number;
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

/** The worker's answers (with the buffers its arguments came in, moved back), its report of a lost device. */
export type GpuReply =
  | {
    readonly id: number;
    readonly ok: true;
    readonly value: unknown;
    readonly spare: ArrayBuffer[];
  }
  | {
    readonly id: number;
    readonly ok: false;
    readonly error: WireError;
    readonly spare: ArrayBuffer[];
  }
  | { readonly lost: string }
  | { readonly closed: true };

// Matrices cross threads moved, not cloned: Deno serialises a cloned typed array byte by byte
// (a 9.4 MB Float32Array took 43 ms to clone to a worker and back here, 1.5 ms copied and
// moved; on the H200 host, 1024 rows cost the threaded encode 32 ms against 12.7 in-process).

/** Where a moved copy's memory comes from: kept buffers (gpu/spare_buffers.ts), or new. */
export interface MoveOptions {
  readonly spare?: SpareBuffers;
}

function space(bytes: number, options: MoveOptions): ArrayBuffer {
  return options.spare ? options.spare.take(bytes) : new ArrayBuffer(bytes);
}

/** A copy of `m` whose buffer is listed in `transfer`, to be moved to the other thread. */
export function movedMatrix(
  m: Matrix,
  transfer: Transferable[],
  options: MoveOptions = {},
): Matrix {
  const buffer = space(m.data.byteLength, options);
  const data = new Float32Array(buffer, 0, m.data.length);
  data.set(m.data);
  transfer.push(buffer);
  return { rows: m.rows, cols: m.cols, data };
}

/**
 * `s` packed into one index and one value buffer (each row a view of them), both listed in
 * `transfer`: two buffers move where a row's own arrays would be cloned or moved one by one.
 */
export function movedRows(
  s: SparseRows,
  transfer: Transferable[],
  options: MoveOptions = {},
): SparseRows {
  let total = 0;
  for (const row of s.indices) total += row.length;
  const indexBuffer = space(total * 4, options);
  const valueBuffer = space(total * 4, options);
  const allIndices = new Int32Array(indexBuffer, 0, total);
  const allValues = new Float32Array(valueBuffer, 0, total);
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
  transfer.push(indexBuffer, valueBuffer);
  return { width: s.width, indices, values };
}

/** The buffers behind the matrices and sparse rows among `args`, each once. */
export function argumentBuffers(args: readonly unknown[]): ArrayBuffer[] {
  const found = new Set<ArrayBuffer>();
  const add = (a: ArrayBufferView | undefined) => {
    if (a?.buffer instanceof ArrayBuffer) found.add(a.buffer);
  };
  for (const arg of args) {
    const v = arg as Partial<Matrix & SparseRows> | null;
    if (v?.data instanceof Float32Array) add(v.data);
    if (Array.isArray(v?.indices) && Array.isArray(v?.values)) {
      add(v.indices[0]);
      add(v.values[0]);
    }
  }
  return [...found];
}
