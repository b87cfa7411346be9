/**
 * The WebGPU backend on a thread of its own, for the service. Under Deno 2.9.6 WebGPU blocks the
 * thread that calls it while the GPU works: `mapAsync` polls the device until the submission is
 * done before it returns (ext/webgpu/buffer.rs), and llvmpipe runs a submission inside
 * `queue.submit` itself. On the request thread, every encode stopped every other request for
 * the GPU's whole time. Here the device lives on a worker (gpu/thread_worker.ts); this proxy
 * posts each call there and waits asynchronously. A dictionary's weights are copied to the
 * worker once at load (its host copy there is dropped after the upload); rows and codes are
 * copied and moved per call (cloning was slower), results moved back, sparse rows in two buffers. An aborted call is answered at once; the
 * worker's late result is dropped.
 * @module
 */

import type {
  BackendHealth,
  CallOptions,
  DeviceInfo,
  EncodeOptions,
  Prepared,
} from "../backend.ts";
import { SaeError, type WireError } from "../../domain/errors.ts";
import type { SaeWeights } from "../../domain/sae/dictionary.ts";
import type { Matrix, SparseRows } from "../../domain/sae/matrix.ts";
import type { WebGpuBackend, WebGpuBackendOptions } from "./mod.ts";
import {
  type GpuCall,
  type GpuMethod,
  type GpuOpened,
  type GpuReply,
  movedMatrix,
  movedRows,
} from "./thread_protocol.ts";
import { SpareBuffers, type SpareCounts } from "./spare_buffers.ts";

const WORKER_URL = new URL("./thread_worker.ts", import.meta.url).href;
/** Longest wait for the worker to destroy its device at close. */
const CLOSE_WAIT_MS = 2000;
/** Time given to the terminated worker's thread to drop its GPU instance. */
const TEARDOWN_MS = 100;

interface ThreadPrepared extends Prepared {
  /** The worker's id for this dictionary. */
  readonly gpuId: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

function rebuild(e: WireError): Error {
  if (e.name === "SaeError" && e.kind) return new SaeError(e.kind, e.message);
  if (e.name === "RangeError") return new RangeError(e.message);
  return new SaeError("unavailable", `GPU failure: ${e.message}`);
}

/** Options without what cannot cross threads (the signal) or does not matter there. */
function portable<T extends CallOptions>(options?: T): Omit<T, "signal" | "priority"> | null {
  if (!options) return null;
  const { signal: _signal, priority: _priority, ...rest } = options;
  return rest;
}

/** Options of {@link webgpuThread}: the backend's, and the worker's turn order. */
export interface WebGpuThreadOptions extends WebGpuBackendOptions {
  /** Live calls in a row a waiting research call lets pass (default 4; 0: none jumps ahead). */
  liveTurns?: number;
}

/** The WebGPU backend on its worker thread. */
export interface WebGpuThread extends WebGpuBackend {
  /** How often a call's rows travelled in a kept buffer (gpu/spare_buffers.ts). */
  spareCounts(): SpareCounts;
}

/**
 * Start the WebGPU backend on its own worker thread; throws SaeError "unavailable" when no
 * usable adapter exists (as gpu/mod.ts's webgpuBackend does).
 */
export async function webgpuThread(options: WebGpuThreadOptions = {}): Promise<WebGpuThread> {
  const worker = new Worker(WORKER_URL, { type: "module" });
  const pending = new Map<number, Pending>();
  const spare = new SpareBuffers();
  let nextId = 1;
  let stopped: string | null = null;
  let markLost!: (reason: string) => void;
  const lost = new Promise<string>((resolve) => (markLost = resolve));

  const stop = (reason: string) => {
    if (stopped !== null) return;
    stopped = reason;
    markLost(reason);
    const error = new SaeError("unavailable", reason);
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  worker.onmessage = (e: MessageEvent<GpuReply>) => {
    const m = e.data;
    if ("closed" in m) return markClosed();
    if ("lost" in m) return stop(`GPU device lost: ${m.lost}`);
    for (const buffer of m.spare) spare.give(buffer);
    const p = pending.get(m.id);
    if (!p) return; // abandoned by its caller
    pending.delete(m.id);
    if (m.ok) p.resolve(m.value);
    else p.reject(rebuild(m.error));
  };
  worker.onerror = (e) => {
    e.preventDefault();
    stop(`the GPU worker failed: ${e.message}`);
    worker.terminate();
  };

  const opened = await new Promise<unknown>((resolve, reject) => {
    pending.set(0, { resolve, reject });
    const { liveTurns, ...open } = options;
    worker.postMessage({ id: 0, open, liveTurns });
  }).catch((e) => {
    worker.terminate();
    throw e;
  }) as GpuOpened;

  function post<T>(
    method: GpuMethod,
    args: unknown[],
    options: CallOptions & { transfer?: Transferable[] } = {},
  ): Promise<T> {
    const signal = options.signal;
    const transfer = options.transfer ?? [];
    /** The arguments' kept buffers go back when the call never reaches the worker. */
    const unsent = (e: unknown) => {
      for (const t of transfer) if (t instanceof ArrayBuffer) spare.give(t);
      return Promise.reject(e);
    };
    if (stopped !== null) return unsent(new SaeError("unavailable", stopped));
    if (signal?.aborted) return unsent(signal.reason);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        pending.delete(id);
        worker.postMessage({ cancel: id }); // dropped unless it has started
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      pending.set(id, {
        resolve: (v) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(v as T);
        },
        reject: (err) => {
          signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
      });
      const call: GpuCall = { id, method, args, priority: options.priority ?? "live" };
      try {
        worker.postMessage(call, transfer);
      } catch (e) {
        pending.get(id)?.reject(e);
        pending.delete(id);
      }
    });
  }

  const gpuId = (p: Prepared) => (p as ThreadPrepared).gpuId;

  return {
    name: "webgpu",
    adapter: opened.adapter,
    fallbackAdapter: opened.fallbackAdapter,
    maxBinding: opened.maxBinding,
    precision: opened.precision,
    lost,
    device: (): DeviceInfo => opened.device,
    spareCounts: (): SpareCounts => spare.counts(),
    health: (): BackendHealth =>
      stopped === null ? { healthy: true } : { healthy: false, detail: stopped },
    async prepare(weights: SaeWeights): Promise<Prepared> {
      const id = nextId; // the call's id names the dictionary in the worker
      // The large matrices go over as copies moved, not cloned: cloning serialises them first,
      // which held three copies at once while loading instead of two.
      const transfer: Transferable[] = [];
      const sent: SaeWeights = {
        ...weights,
        wEnc: movedMatrix(weights.wEnc, transfer),
        wDec: movedMatrix(weights.wDec, transfer),
        wSkip: weights.wSkip && movedMatrix(weights.wSkip, transfer),
      };
      const extraBytes = await post<number>("prepare", [sent], { transfer });
      const prepared: ThreadPrepared = { weights, extraBytes, gpuId: id };
      return prepared;
    },
    release(prepared: Prepared): void {
      // Queued as research, and a barrier: it runs after every call posted before it.
      post("release", [gpuId(prepared)], { priority: "research" }).catch(() => {});
    },
    encode(prepared: Prepared, s: Matrix, options?: EncodeOptions): Promise<SparseRows> {
      const transfer: Transferable[] = [];
      const args = [gpuId(prepared), movedMatrix(s, transfer, { spare }), portable(options)];
      return post("encode", args, { ...options, transfer });
    },
    decodeSparse(
      prepared: Prepared,
      codes: SparseRows,
      options?: { bias?: boolean } & CallOptions,
    ): Promise<Matrix> {
      const transfer: Transferable[] = [];
      const args = [gpuId(prepared), movedRows(codes, transfer, { spare }), portable(options)];
      return post("decodeSparse", args, { ...options, transfer });
    },
    decodeDense(
      prepared: Prepared,
      codes: Matrix,
      options?: { bias?: boolean } & CallOptions,
    ): Promise<Matrix> {
      const transfer: Transferable[] = [];
      const args = [gpuId(prepared), movedMatrix(codes, transfer, { spare }), portable(options)];
      return post("decodeDense", args, { ...options, transfer });
    },
    steer(
      prepared: Prepared,
      x: Matrix,
      deltas: SparseRows,
      options?: { rowScale?: Float32Array } & CallOptions,
    ): Promise<Matrix> {
      const transfer: Transferable[] = [];
      const moved = [movedMatrix(x, transfer, { spare }), movedRows(deltas, transfer, { spare })];
      const args = [gpuId(prepared), ...moved, portable(options)];
      return post("steer", args, { ...options, transfer });
    },
    matmul(
      a: Matrix,
      b: Matrix,
      options?: { transposeB?: boolean } & CallOptions,
    ): Promise<Matrix> {
      const transfer: Transferable[] = [];
      const args = [
        movedMatrix(a, transfer, { spare }),
        movedMatrix(b, transfer, { spare }),
        portable(options),
      ];
      return post("matmul", args, { ...options, transfer });
    },
    topK(m: Matrix, k: number, options?: CallOptions): Promise<SparseRows> {
      const transfer: Transferable[] = [];
      return post("topK", [movedMatrix(m, transfer, { spare }), k], { ...options, transfer });
    },
    async close(): Promise<void> {
      if (stopped === "the GPU backend is closed") return;
      const running = stopped === null;
      stop("the GPU backend is closed");
      if (running) {
        worker.postMessage({ close: true });
        // A call still on the GPU delays the answer; a worker that died never gives one.
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
        clearTimeout(timer);
      }
      worker.terminate();
      // The thread drops its GPU instance after termination. A process exiting meanwhile tore
      // the EGL display down under it (llvmpipe over GL: a panic in wgpu-hal, 1 exit in 14).
      await new Promise((r) => setTimeout(r, TEARDOWN_MS));
    },
  };
}
