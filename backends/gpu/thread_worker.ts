/**
 * The worker that holds the WebGPU device (see gpu/thread.ts): opens the backend, serves the
 * proxy's calls one at a time, waiting live calls before waiting research calls (but one research
 * call after every `liveTurns` live calls while it waits, backends/turn_order.ts), each class in
 * the order they come (a call cancelled before it starts is dropped), and reports a lost device.
 * A prepared dictionary keeps only its GPU buffers and small vectors here; its host matrices are
 * dropped once uploaded.
 * @module
 */

/// <reference lib="deno.worker" />

import type { Prepared } from "../backend.ts";
import { SaeError, wireError } from "../../domain/errors.ts";
import type { SaeWeights } from "../../domain/sae/dictionary.ts";
import type { Matrix, SparseRows } from "../../domain/sae/matrix.ts";
import { type WebGpuBackend, webgpuBackend } from "./mod.ts";
import { TurnOrder } from "../turn_order.ts";
import {
  argumentBuffers,
  type GpuCall,
  type GpuCancel,
  type GpuClose,
  type GpuOpen,
  type GpuOpened,
  type GpuReply,
  movedRows,
} from "./thread_protocol.ts";

let backend: WebGpuBackend | null = null;
const prepared = new Map<number, Prepared>();
/** Calls waiting their turn, and whether one runs. */
const queue: GpuCall[] = [];
let running = false;
/** Which class goes next (replaced with the proxy's liveTurns at open). */
let order = new TurnOrder();

function reply(message: GpuReply, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

/** `value` ready to move back: a matrix's own buffer, sparse rows packed into two. */
function movable(value: unknown): { value: unknown; transfer: Transferable[] } {
  const transfer: Transferable[] = [];
  const v = value as Partial<Matrix & SparseRows>;
  if (v?.indices && v.values) return { value: movedRows(v as SparseRows, transfer), transfer };
  if (v?.data?.buffer instanceof ArrayBuffer) transfer.push(v.data.buffer);
  return { value, transfer };
}

/**
 * The buffers a call's rows came in, to move back for the proxy's next call (the backend keeps
 * none of them once the call is done: uploads copy at once). A dictionary's weights stay.
 */
function returned(call: GpuCall, answer: Transferable[]): ArrayBuffer[] {
  if (call.method === "prepare" || call.method === "release") return [];
  return argumentBuffers(call.args).filter((b) => !answer.includes(b));
}

/** `weights` without its large matrices (the GPU holds them now). */
function hostless(weights: SaeWeights): SaeWeights {
  const empty = (m: Matrix) => ({ ...m, data: new Float32Array(0) });
  return {
    ...weights,
    wEnc: empty(weights.wEnc),
    wDec: empty(weights.wDec),
    wSkip: weights.wSkip && empty(weights.wSkip),
  };
}

function dictionary(id: unknown): Prepared {
  const p = prepared.get(id as number);
  if (!p) throw new SaeError("unavailable", "the GPU worker does not hold that dictionary");
  return p;
}

async function call(gpu: WebGpuBackend, c: GpuCall): Promise<unknown> {
  const a = c.args;
  switch (c.method) {
    case "prepare": {
      const weights = a[0] as SaeWeights;
      const p = await gpu.prepare(weights);
      prepared.set(c.id, { ...p, weights: hostless(weights) });
      return p.extraBytes;
    }
    case "release": {
      const p = prepared.get(a[0] as number);
      prepared.delete(a[0] as number);
      if (p) gpu.release(p);
      return null;
    }
    case "encode":
      return await gpu.encode(dictionary(a[0]), a[1] as Matrix, a[2] as { top?: number });
    case "decodeSparse":
      return await gpu.decodeSparse(dictionary(a[0]), a[1] as SparseRows, a[2] as object);
    case "decodeDense":
      return await gpu.decodeDense(dictionary(a[0]), a[1] as Matrix, a[2] as object);
    case "steer":
      return await gpu.steer(dictionary(a[0]), a[1] as Matrix, a[2] as SparseRows, a[3] as object);
    case "matmul":
      return await gpu.matmul(a[0] as Matrix, a[1] as Matrix, a[2] as object);
    case "topK":
      return await gpu.topK(a[0] as Matrix, a[1] as number);
  }
}

/**
 * The next call to run: the oldest of the class {@link TurnOrder} picks. A release (queued as
 * research) is a barrier: it runs only once every call posted before it has, so a research turn
 * that reaches it takes the oldest waiting call instead.
 */
function next(): GpuCall | undefined {
  const live = queue.filter((c) => c.priority === "live").length;
  const turn = order.next({ live, research: queue.length - live });
  if (turn === null) return undefined;
  const at = queue.findIndex((c) => (c.priority === "live") === (turn === "live"));
  return queue.splice(queue[at].method === "release" ? 0 : at, 1)[0];
}

/** Run the queued calls one after another, live ones first. */
async function pump(): Promise<void> {
  if (running) return;
  running = true;
  try {
    for (let m = next(); m; m = next()) {
      try {
        if (!backend) throw new SaeError("unavailable", "the GPU worker has no device");
        const { value, transfer } = movable(await call(backend, m));
        const spare = returned(m, transfer);
        reply({ id: m.id, ok: true, value, spare }, [...transfer, ...spare]);
      } catch (err) {
        const spare = returned(m, []);
        reply({ id: m.id, ok: false, error: wireError(err), spare }, spare);
      }
    }
  } finally {
    running = false;
  }
}

self.onmessage = async (e: MessageEvent<GpuOpen | GpuCall | GpuCancel | GpuClose>) => {
  const m = e.data;
  if ("cancel" in m) {
    const at = queue.findIndex((c) => c.id === m.cancel);
    if (at < 0) return;
    const [call] = queue.splice(at, 1);
    // Its caller was answered already; only the buffers its rows came in go back.
    const spare = returned(call, []);
    const error = wireError(new SaeError("unavailable", "the call was cancelled"));
    reply({ id: call.id, ok: false, error, spare }, spare);
    return;
  }
  if ("close" in m) {
    // The proxy terminates this worker on the answer: the device is gone before the thread is.
    backend?.close();
    backend = null;
    reply({ closed: true });
    return;
  }
  if ("open" in m) {
    try {
      order = new TurnOrder(m.liveTurns);
      backend = await webgpuBackend(m.open);
      backend.lost.then((reason) => reply({ lost: reason }));
      const opened: GpuOpened = {
        name: "webgpu",
        adapter: backend.adapter,
        fallbackAdapter: backend.fallbackAdapter,
        device: backend.device!(),
        maxBinding: backend.maxBinding,
        precision: backend.precision,
      };
      reply({ id: 0, ok: true, value: opened, spare: [] });
    } catch (err) {
      reply({ id: 0, ok: false, error: wireError(err), spare: [] });
    }
    return;
  }
  queue.push(m);
  pump();
};
