/**
 * The load test's live progress: once a second during a phase, one line with the requests so
 * far, req/s, p50 and p99 of the 2xx answers and the errors. On a terminal the line is rewritten
 * in place; elsewhere (a log file, CI) one line is written every few seconds.
 * @module
 */

import { percentile } from "./stats.ts";

/** A phase as it stands: what {@link progressLine} reads. */
export interface ProgressSnapshot {
  readonly backend: string;
  readonly elapsedS: number;
  readonly durationS: number;
  /** Completed requests, any outcome. */
  readonly requests: number;
  /** Latencies of the 2xx answers so far, ms, in any order. */
  readonly latencies: readonly number[];
  /** Failures so far (non-2xx, timeouts, network). */
  readonly errors: number;
}

/** Receives a progress line each second of a phase; `done` once when the phase ends. */
export type ProgressSink = (line: string, done: boolean) => void;

function ms(v: number): string {
  return Number.isNaN(v) ? "-" : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
}

/** "wasm 12/30 s: 4120 requests, 343.3 req/s, p50 61.2 ms, p99 140 ms, 0 errors". */
export function progressLine(s: ProgressSnapshot): string {
  const sorted = Float64Array.from(s.latencies).sort();
  const rate = s.elapsedS > 0 ? s.requests / s.elapsedS : 0;
  return `${s.backend} ${Math.floor(s.elapsedS)}/${s.durationS} s: ${s.requests} requests, ` +
    `${rate.toFixed(1)} req/s, p50 ${ms(percentile(sorted, 50))} ms, ` +
    `p99 ${ms(percentile(sorted, 99))} ms, ${s.errors} error${s.errors === 1 ? "" : "s"}`;
}

/** Where and how a {@link progressWriter} writes. */
export interface ProgressWriterOptions {
  /** Writes text as is (no newline added). */
  readonly write: (text: string) => void;
  /** Rewrite one line in place (a terminal); otherwise whole lines. */
  readonly tty: boolean;
  /** Off a terminal, write the first line and every n-th (default 5: a line per 5 s). */
  readonly every?: number;
}

/**
 * A sink that rewrites one line on a terminal (cleared when the phase ends, so the table
 * replaces it) and elsewhere writes the first and every `every`-th line of a phase whole.
 */
export function progressWriter(options: ProgressWriterOptions): ProgressSink {
  const every = Math.max(1, options.every ?? 5);
  let count = 0;
  return (line, done) => {
    if (options.tty) {
      options.write(done ? "\r\x1b[K" : `\r${line}\x1b[K`);
      return;
    }
    if (done) {
      count = 0;
      return;
    }
    count++;
    if (count === 1 || count % every === 0) options.write(`${line}\n`);
  };
}

/** The default sink: stderr, rewriting in place when stderr is a terminal. */
export function stderrProgress(): ProgressSink {
  const encoder = new TextEncoder();
  return progressWriter({
    write: (text) => Deno.stderr.writeSync(encoder.encode(text)),
    tty: Deno.stderr.isTerminal(),
  });
}
