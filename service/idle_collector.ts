/**
 * Garbage collection at the moments that give memory back: when a dictionary load ends (its
 * source arrays, gigabytes of f32 images for a large bf16 dictionary, are garbage then) and
 * when the service goes idle after work that left garbage behind (a 256-row JSON request
 * parses tens of MiB that V8 keeps, with its young generation grown to match, until allocation
 * forces a collection, which an idle service never does).
 *
 * The collection is V8's memory-reducing one (`gc` with flavor "last-resort": full collections
 * until nothing more is freed, the young generation shrunk, pooled pages returned). It needs
 * `--v8-flags=--expose-gc`, as `deno task start` and the compiled binary pass it; without it
 * the collector does nothing.
 * @module
 */

type Timer = ReturnType<typeof setTimeout>;

/** Runs a garbage collection. */
export type CollectGarbage = () => void;

/** Options of {@link IdleCollector}. */
export interface IdleCollectorOptions {
  /** Quiet time (no work in progress) before an idle collection, ms (default 1000). */
  readonly delayMs?: number;
  /**
   * An idle collection runs only when the heap and external memory grew this much since the
   * last collection (default 8 MiB): a trickle of small requests does not collect each time.
   */
  readonly minGrowthBytes?: number;
  /** The collection (default {@link v8Collection}); null: never collect. */
  readonly collect?: CollectGarbage | null;
  /** The isolate's heap plus external bytes now (default from Deno.memoryUsage()). */
  readonly heapBytes?: () => number;
}

/**
 * V8's memory-reducing full collection when the runtime exposes `gc` (--expose-gc), else
 * undefined.
 */
export function v8Collection(): CollectGarbage | undefined {
  const gc = (globalThis as { gc?: (options?: Record<string, string>) => void }).gc;
  if (typeof gc !== "function") return undefined;
  return () => gc({ type: "major", execution: "sync", flavor: "last-resort" });
}

function heapAndExternal(): number {
  const m = Deno.memoryUsage();
  return m.heapTotal + m.external;
}

/** Collects garbage once loads end and once the service has been idle for a moment. */
export class IdleCollector {
  readonly #collect: CollectGarbage | undefined;
  readonly #delayMs: number;
  readonly #minGrowth: number;
  readonly #heapBytes: () => number;
  #busy = 0;
  /** Heap and external bytes right after the last collection (0: none yet). */
  #baseline = 0;
  #idleTimer: Timer | undefined;
  #loadTimer: Timer | undefined;
  #closed = false;
  /** Collections run (idle and after loads). */
  collections = 0;

  /** A collector; the first idle collection comes `delayMs` after start-up. */
  constructor(options: IdleCollectorOptions = {}) {
    this.#collect = options.collect === null ? undefined : options.collect ?? v8Collection();
    this.#delayMs = options.delayMs ?? 1000;
    this.#minGrowth = options.minGrowthBytes ?? 8 << 20;
    this.#heapBytes = options.heapBytes ?? heapAndExternal;
    this.#armIdle();
  }

  /** Work in progress until the returned function (idempotent) is called. */
  enter(): () => void {
    this.#busy++;
    if (this.#idleTimer !== undefined) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.#busy === 0) this.#armIdle();
    };
  }

  /**
   * A load ended: collect on the next turn of the event loop (once the loader's frames are
   * gone), whether or not other work is in progress.
   */
  afterLoad(): void {
    if (!this.#collect || this.#closed || this.#loadTimer !== undefined) return;
    this.#loadTimer = this.#timer(() => {
      this.#loadTimer = undefined;
      this.#run();
    }, 0);
  }

  /** Cancel pending collections; later calls do nothing. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#loadTimer);
    this.#idleTimer = this.#loadTimer = undefined;
  }

  #armIdle(): void {
    if (!this.#collect || this.#closed || this.#idleTimer !== undefined) return;
    this.#idleTimer = this.#timer(() => {
      this.#idleTimer = undefined;
      if (this.#busy > 0) return;
      if (this.#heapBytes() - this.#baseline >= this.#minGrowth) this.#run();
    }, this.#delayMs);
  }

  #run(): void {
    this.#collect!();
    this.collections++;
    this.#baseline = this.#heapBytes();
  }

  /** A timer that does not keep the process alive. */
  #timer(fn: () => void, ms: number): Timer {
    const id: unknown = setTimeout(fn, ms);
    if (typeof id === "number") Deno.unrefTimer(id);
    else (id as { unref?: () => void }).unref?.();
    return id as Timer;
  }
}
