/**
 * Dynamic micro-batching in front of a compute backend: concurrent encode, steer and sparse
 * decode calls on the same prepared dictionary (and the same options) are coalesced into one
 * kernel call, then split back per caller. Queues are bounded: beyond `maxQueuedRows` a call
 * fails at once with SaeError "over_capacity" (HTTP 429). Rows are independent in every
 * backend, so a batched row gets exactly the result it would get alone.
 * @module
 */

import type { Backend, BackendName, EncodeOptions, MatrixArena, Prepared } from "./backend.ts";
import { SaeError } from "./errors.ts";
import { type Matrix, matrix, type SparseRows } from "./matrix.ts";

/** Batching settings. */
export interface BatchingOptions {
  /** Most rows in one kernel call (default 256). */
  readonly maxRows?: number;
  /** How long the first queued call waits for company, in ms (default 1). */
  readonly maxWaitMs?: number;
  /** Rows allowed to wait per lane before callers get 429 (default 8192). */
  readonly maxQueuedRows?: number;
  /** Told the size of each batch run and the queue depth it left. */
  readonly onBatch?: (rows: number, queuedRows: number) => void;
}

interface Pending<I, R> {
  readonly input: I;
  readonly rows: number;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/** One queue of compatible calls, run one batch at a time. */
class Lane<I, R> {
  readonly #queue: Pending<I, R>[] = [];
  #queuedRows = 0;
  #running = false;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly run: (inputs: I[]) => Promise<R[]>,
    private readonly options:
      & Required<Omit<BatchingOptions, "onBatch">>
      & Pick<BatchingOptions, "onBatch">,
  ) {}

  submit(input: I, rows: number): Promise<R> {
    if (this.#queuedRows + rows > this.options.maxQueuedRows && this.#queue.length > 0) {
      return Promise.reject(
        new SaeError(
          "over_capacity",
          `the queue for this dictionary is full (${this.#queuedRows} rows waiting)`,
        ),
      );
    }
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ input, rows, resolve, reject });
      this.#queuedRows += rows;
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#running || this.#timer !== null || this.#queue.length === 0) return;
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
    this.options.onBatch?.(rows, this.#queuedRows);
    this.#running = true;
    try {
      const results = await this.run(batch.map((p) => p.input));
      batch.forEach((p, i) => p.resolve(results[i]));
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.#running = false;
      this.#schedule();
    }
  }
}

function concatRows(parts: Matrix[]): Matrix {
  if (parts.length === 1) return parts[0];
  const cols = parts[0].cols;
  const out = matrix(parts.reduce((n, m) => n + m.rows, 0), cols);
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
    const part = matrix(n, m.cols, m.data.slice(r * m.cols, (r + n) * m.cols));
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
    maxWaitMs: options.maxWaitMs ?? 1,
    maxQueuedRows: options.maxQueuedRows ?? 8192,
    onBatch: options.onBatch,
  };
  const lanes = new WeakMap<Prepared, Map<string, Lane<unknown, unknown>>>();
  function lane<I, R>(
    prepared: Prepared,
    key: string,
    run: (inputs: I[]) => Promise<R[]>,
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
    close: inner.close ? (): void => inner.close!() : undefined,
    prepare: (weights) => inner.prepare(weights),
    release: (prepared) => inner.release(prepared),
    encode(prepared: Prepared, s: Matrix, o?: EncodeOptions): Promise<SparseRows> {
      const l = lane<Matrix, SparseRows>(prepared, `encode:${o?.top ?? ""}`, async (inputs) => {
        const out = await inner.encode(prepared, concatRows(inputs), o);
        return splitSparse(out, inputs.map((m) => m.rows));
      });
      return l.submit(s, s.rows);
    },
    decodeSparse(prepared: Prepared, codes: SparseRows, o?: { bias?: boolean }): Promise<Matrix> {
      const l = lane<SparseRows, Matrix>(
        prepared,
        `decode:${o?.bias !== false}`,
        async (inputs) => {
          const out = await inner.decodeSparse(prepared, concatSparse(inputs), o);
          return splitRows(out, inputs.map((c) => c.indices.length));
        },
      );
      return l.submit(codes, codes.indices.length);
    },
    decodeDense: (prepared, codes, o) => inner.decodeDense(prepared, codes, o),
    steer(
      prepared: Prepared,
      x: Matrix,
      deltas: SparseRows,
      o?: { rowScale?: Float32Array },
    ): Promise<Matrix> {
      type Input = { x: Matrix; deltas: SparseRows; rowScale?: Float32Array };
      const l = lane<Input, Matrix>(prepared, "steer", async (inputs) => {
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
          { rowScale: scale },
        );
        return splitRows(out, inputs.map((i) => i.x.rows));
      });
      return l.submit({ x, deltas, rowScale: o?.rowScale }, x.rows);
    },
    matmul: (a, b, o) => inner.matmul(a, b, o),
    topK: (m, k) => inner.topK(m, k),
  };
  return backend;
}
