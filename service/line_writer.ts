/**
 * Request log lines written in batches after the responses: a line is queued, and a timer
 * writes every queued line in one call, by default 50 ms after the first of them. Many requests'
 * lines share one write instead of one system call each, also when they come one at a time (a
 * live client steering token by token sends a request every few milliseconds; a write to a pipe
 * cost it about 0.07 ms of the request thread and woke the reader each time).
 * @module
 */

/** Options of {@link LineWriter}. */
export interface LineWriterOptions {
  /** Writes bytes completely (default: standard output). */
  readonly write?: (bytes: Uint8Array) => void;
  /** Flush at once beyond this many queued characters (default 64 Ki). */
  readonly maxQueued?: number;
  /** Milliseconds from the first queued line to the write (default 50; 0: after the turn). */
  readonly delayMs?: number;
}

/** Queues text lines and writes them in batches. */
export class LineWriter {
  readonly #write: (bytes: Uint8Array) => void;
  readonly #max: number;
  readonly #delay: number;
  readonly #encoder = new TextEncoder();
  #lines: string[] = [];
  #queued = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** A writer to `options.write` (standard output by default). */
  constructor(options: LineWriterOptions = {}) {
    this.#write = options.write ?? ((bytes) => writeAll(Deno.stdout, bytes));
    this.#max = options.maxQueued ?? 64 << 10;
    this.#delay = options.delayMs ?? 50;
  }

  /** Queue `line` (a newline is added); it is written within the delay. */
  line(line: string): void {
    this.#lines.push(line);
    this.#queued += line.length + 1;
    if (this.#queued >= this.#max) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#delay);
  }

  /** Write every queued line now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lines.length === 0) return;
    const text = this.#lines.join("\n") + "\n";
    this.#lines = [];
    this.#queued = 0;
    this.#write(this.#encoder.encode(text));
  }
}

/** Write all of `bytes` to a synchronous writer (a short write continues where it stopped). */
function writeAll(out: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length;) at += out.writeSync(bytes.subarray(at));
}
