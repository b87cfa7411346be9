/**
 * Dynamic micro-batching in front of a compute backend: concurrent encode, steer and sparse
 * decode calls on the same prepared dictionary (and the same options and priority) are
 * coalesced into one kernel call, then split back per caller. Queues are bounded: beyond
 * `maxQueuedRows` a call fails at once with SaeError "over_capacity" (HTTP 429). Rows are
 * independent in every backend, so a batched row gets exactly the result it would get alone.
 * A caller whose signal aborts is rejected at once (and leaves the queue); the kernel call of
 * a batch is aborted only when every caller in it has gone.
 * @module
 */

import type {
  Backend,
  BackendHealth,
  BackendName,
  CallOptions,
  DeviceInfo,
  EncodeOptions,
  MatrixArena,
  Prepared,
  WorkClass,
} from "./backend.ts";
import { SaeError } from "../domain/errors.ts";
import { type Matrix, matrix, type SparseRows } from "../domain/sae/matrix.ts";

/** Batching settings. */
export interface BatchingOptions {
  /** Most rows in one kernel call (default 256). */
  readonly maxRows?: number;
  /**
   * How long the first call queued on an idle lane waits for company, in ms (default 0: it runs
   * at once, after the calls made in the same turn; calls arriving while a batch runs wait for
   * it and go together in the next one).
   */
  readonly maxWaitMs?: number;
  /** Rows allowed to wait per lane before callers get 429 (default 8192). */
  readonly maxQueuedRows?: number;
  /** Told the size of each batch run and the queue depth it left. */
  readonly onBatch?: (rows: number, queuedRows: number) => void;
}

interface Pending<I, R> {
  readonly input: I;
  readonly rows: number;
  /** The batch it runs in, once taken from the queue. */
  batch: Running | null;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/** The batch a lane is running: aborted when every caller in it has aborted. */
interface Running {
  readonly controller: AbortController;
  members: number;
  gone: number;
}

/** One queue of compatible calls, run one batch at a time. */
class Lane<I, R> {
  readonly #queue: Pending<I, R>[] = [];
  #queuedRows = 0;
  #running: Running | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** A flush is queued as a microtask (maxWaitMs 0). */
  #soon = false;

  constructor(
    private readonly run: (inputs: I[], signal: AbortSignal) => Promise<R[]>,
    private readonly options:
      & Required<Omit<BatchingOptions, "onBatch">>
      & Pick<BatchingOptions, "onBatch">,
  ) {}

  submit(input: I, rows: number, signal?: AbortSignal): Promise<R> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#queuedRows + rows > this.options.maxQueuedRows && this.#queue.length > 0) {
      return Promise.reject(
        new SaeError(
          "over_capacity",
          `the queue for this dictionary is full (${this.#queuedRows} rows waiting)`,
        ),
      );
    }
    return new Promise<R>((resolve, reject) => {
      const onAbort = () => {
        const at = this.#queue.indexOf(pending);
        if (at >= 0) {
          this.#queue.splice(at, 1);
          this.#queuedRows -= rows;
        } else if (pending.batch && ++pending.batch.gone === pending.batch.members) {
          pending.batch.controller.abort(signal!.reason);
        }
        reject(signal!.reason);
      };
      const pending: Pending<I, R> = {
        input,
        rows,
        batch: null,
        resolve(result: R) {
          signal?.removeEventListener("abort", onAbort);
          resolve(result);
        },
        reject(error: unknown) {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(pending);
      this.#queuedRows += rows;
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#running !== null || this.#timer !== null || this.#soon) return;
    if (this.#queue.length === 0) return;
    if (this.options.maxWaitMs <= 0) {
      // No timer: a timer costs 1-3 ms here even at 0 ms, the whole budget of one live row.
      this.#soon = true;
      queueMicrotask(() => {
        this.#soon = false;
        void this.#flush();
      });
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#flush();
    }, this.options.maxWaitMs);
  }

  async #flush(): Promise<void> {
    const batch: Pending<I, R>[] = [];
    let rows = 0;
    while (
      this.#queue.length &&
      (batch.length === 0 || rows + this.#queue[0].rows <= this.options.maxRows)
    ) {
      const next = this.#queue.shift()!;
      batch.push(next);
      rows += next.rows;
    }
    this.#queuedRows -= rows;
    if (batch.length === 0) return;
    this.options.onBatch?.(rows, this.#queuedRows);
    const running: Running = {
      controller: new AbortController(),
      members: batch.length,
      gone: 0,
    };
    for (const p of batch) p.batch = running;
    this.#running = running;
    try {
      const results = await this.run(batch.map((p) => p.input), running.controller.signal);
      batch.forEach((p, i) => p.resolve(results[i]));
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.#running = null;
      this.#schedule();
    }
  }
}

function concatRows(parts: Matrix[]): Matrix {
  if (parts.length === 1) return parts[0];
  const cols = parts[0].cols;
  const out = matrix([parts.reduce((n, m) => n + m.rows, 0), cols]);
  let at = 0;
  for (const m of parts) {
    out.data.set(m.data, at);
    at += m.data.length;
  }
  return out;
}

function splitRows(m: Matrix, counts: number[]): Matrix[] {
  let r = 0;
  return counts.map((n) => {
    const part = matrix([n, m.cols], m.data.slice(r * m.cols, (r + n) * m.cols));
    r += n;
    return part;
  });
}

function concatSparse(parts: SparseRows[]): SparseRows {
  return {
    width: parts[0].width,
    indices: parts.flatMap((p) => p.indices),
    values: parts.flatMap((p) => p.values),
  };
}

function splitSparse(s: SparseRows, counts: number[]): SparseRows[] {
  let r = 0;
  return counts.map((n) => {
    const part = {
      width: s.width,
      indices: s.indices.slice(r, r + n),
      values: s.values.slice(r, r + n),
    };
    r += n;
    return part;
  });
}

/** Wrap `inner` so concurrent calls share kernel calls. */
export function batchingBackend(inner: Backend, options: BatchingOptions = {}): Backend {
  const settings = {
    maxRows: options.maxRows ?? 256,
    maxWaitMs: options.maxWaitMs ?? 0,
    maxQueuedRows: options.maxQueuedRows ?? 8192,
    onBatch: options.onBatch,
  };
  const lanes = new WeakMap<Prepared, Map<string, Lane<unknown, unknown>>>();
  function lane<I, R>(
    prepared: Prepared,
    key: string,
    run: (inputs: I[], signal: AbortSignal) => Promise<R[]>,
  ): Lane<I, R> {
    let byKey = lanes.get(prepared);
    if (!byKey) lanes.set(prepared, byKey = new Map());
    let l = byKey.get(key) as Lane<I, R> | undefined;
    if (!l) {
      l = new Lane<I, R>(run, settings);
      byKey.set(key, l as Lane<unknown, unknown>);
    }
    return l;
  }

  const backend: Backend = {
    get name(): BackendName {
      return inner.name;
    },
    arena: inner.arena ? (): MatrixArena => inner.arena!() : undefined,
    close: inner.close ? (): void | Promise<void> => inner.close!() : undefined,
    health: inner.health ? (): BackendHealth => inner.health!() : undefined,
    device: inner.device ? (): DeviceInfo => inner.device!() : undefined,
    prepare: (weights) => inner.prepare(weights),
    release: (prepared) => inner.release(prepared),
    encode(prepared: Prepared, s: Matrix, o?: EncodeOptions): Promise<SparseRows> {
      const priority: WorkClass = o?.priority ?? "live";
      const top = o?.top;
      const l = lane<Matrix, SparseRows>(
        prepared,
        `encode:${top ?? ""}:${priority}`,
        async (inputs, signal) => {
          const out = await inner.encode(prepared, concatRows(inputs), { top, priority, signal });
          return splitSparse(out, inputs.map((m) => m.rows));
        },
      );
      return l.submit(s, s.rows, o?.signal);
    },
    decodeSparse(
      prepared: Prepared,
      codes: SparseRows,
      o?: { bias?: boolean } & CallOptions,
    ): Promise<Matrix> {
      const priority: WorkClass = o?.priority ?? "live";
      const bias = o?.bias;
      const l = lane<SparseRows, Matrix>(
        prepared,
        `decode:${bias !== false}:${priority}`,
        async (inputs, signal) => {
          const out = await inner.decodeSparse(prepared, concatSparse(inputs), {
            bias,
            priority,
            signal,
          });
          return splitRows(out, inputs.map((c) => c.indices.length));
        },
      );
      return l.submit(codes, codes.indices.length, o?.signal);
    },
    decodeDense: (prepared, codes, o) => inner.decodeDense(prepared, codes, o),
    steer(
      prepared: Prepared,
      x: Matrix,
      deltas: SparseRows,
      o?: { rowScale?: Float32Array } & CallOptions,
    ): Promise<Matrix> {
      type Input = { x: Matrix; deltas: SparseRows; rowScale?: Float32Array };
      const priority: WorkClass = o?.priority ?? "live";
      const l = lane<Input, Matrix>(prepared, `steer:${priority}`, async (inputs, signal) => {
        const total = inputs.reduce((n, i) => n + i.x.rows, 0);
        const scale = new Float32Array(total).fill(1);
        let at = 0;
        for (const i of inputs) {
          if (i.rowScale) scale.set(i.rowScale, at);
          at += i.x.rows;
        }
        const out = await inner.steer(
          prepared,
          concatRows(inputs.map((i) => i.x)),
          concatSparse(inputs.map((i) => i.deltas)),
          { rowScale: scale, priority, signal },
        );
        return splitRows(out, inputs.map((i) => i.x.rows));
      });
      return l.submit({ x, deltas, rowScale: o?.rowScale }, x.rows, o?.signal);
    },
    matmul: (a, b, o) => inner.matmul(a, b, o),
    topK: (m, k, o) => inner.topK(m, k, o),
  };
  return backend;
}
