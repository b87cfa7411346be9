/**
 * The load test's options: what a caller may ask for, the hard caps, the loopback-only rule, and
 * their validation into the settings a run uses.
 * @module
 */

import { UsageError } from "../args.ts";
import { BACKEND_NAMES, type BackendName } from "../../backends/backend.ts";
import { type ProgressSink, stderrProgress } from "./progress.ts";

/** Request kinds: encode; steer (add: no encode needed); clamp (a steer that encodes first). */
export type MixKind = "encode" | "steer" | "clamp";

/** What {@link runLoadtest} is asked to do. */
export interface LoadtestOptions {
  /** Base URL of the service; must be loopback. */
  readonly url: string;
  /** Dictionary id (sent URL-encoded as one path segment). */
  readonly dictionary: string;
  /** Activation rows per request (1..4096). */
  readonly rows?: number;
  /** Closed-loop clients (1..1024). */
  readonly concurrency?: number;
  /** Seconds per backend phase (0 < d <= 3600). */
  readonly duration?: number;
  /** One phase per backend, in order. */
  readonly backends?: readonly string[];
  /** Request kinds, taken round-robin. */
  readonly mix?: readonly MixKind[];
  /** Folder for loadtest.json and loadtest.svg; null writes nothing. */
  readonly out?: string | null;
  /** Seed of the activations and steered features. */
  readonly seed?: number;
  /** Per-request timeout in milliseconds (default 30 000). */
  readonly requestTimeoutMs?: number;
  /** Sent as `Authorization: Bearer <key>` when set; never printed or written. */
  readonly apiKey?: string;
  /** Where the tables go (default console.log). */
  readonly log?: (line: string) => void;
  /** The live progress line each second (default: stderr, see progress.ts); null: none. */
  readonly progress?: ProgressSink | null;
}

/** A bad option: the CLI answers these with exit code 2. */
export class LoadtestUsageError extends UsageError {
  override name = "LoadtestUsageError";
}

/** Hard caps on the options. */
export const LIMITS = { concurrency: 1024, durationS: 3600, rows: 4096 } as const;

/** Every request kind, the default mix. */
export const MIX_KINDS: readonly MixKind[] = ["encode", "steer", "clamp"];

const DEFAULT_TIMEOUT_MS = 30_000;

/** True when `url`'s host is loopback: 127.0.0.0/8, ::1 (also IPv4-mapped) or localhost. */
export function isLoopback(url: string | URL): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const host = parsed.hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host === "[::1]") return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return true;
  return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host);
}

/** Validated options with their defaults filled in. */
export interface Resolved {
  url: URL;
  dictionary: string;
  rows: number;
  concurrency: number;
  duration: number;
  backends: string[];
  mix: MixKind[];
  out: string | null;
  seed: number;
  requestTimeoutMs: number;
  headers: Record<string, string>;
  log: (line: string) => void;
  progress: ProgressSink | null;
}

/** Check `o` and fill in the defaults; throws {@link LoadtestUsageError}. */
export function resolveOptions(o: LoadtestOptions): Resolved {
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new LoadtestUsageError(`--url ${JSON.stringify(o.url)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new LoadtestUsageError(`--url must be http:// or https://, got ${url.protocol}`);
  }
  if (!isLoopback(url)) {
    throw new LoadtestUsageError(
      `refusing to load-test ${url.host}: only loopback hosts (127.0.0.0/8, ::1, localhost) ` +
        `are allowed`,
    );
  }
  if (!o.dictionary) throw new LoadtestUsageError("--dictionary is required");
  const backends = [...(o.backends ?? ["webgpu", "wasm"])];
  if (!backends.length || backends.some((b) => !BACKEND_NAMES.includes(b as BackendName))) {
    throw new LoadtestUsageError(
      `--backends must be a comma list of ${BACKEND_NAMES.join(", ")}; got ${backends}`,
    );
  }
  const mix = [...(o.mix ?? MIX_KINDS)];
  if (!mix.length || mix.some((m) => !MIX_KINDS.includes(m))) {
    throw new LoadtestUsageError(`--mix must be a comma list of encode, steer, clamp; got ${mix}`);
  }
  return {
    url,
    dictionary: o.dictionary,
    rows: intIn("rows", o.rows ?? 1, 1, LIMITS.rows),
    concurrency: intIn("concurrency", o.concurrency ?? 32, 1, LIMITS.concurrency),
    duration: secondsIn(o.duration ?? 30),
    backends,
    mix,
    out: o.out === undefined ? "." : o.out,
    seed: Math.trunc(o.seed ?? 0),
    requestTimeoutMs: intIn("requestTimeoutMs", o.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS, 1, 3.6e6),
    headers: o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {},
    log: o.log ?? console.log,
    progress: o.progress === undefined ? stderrProgress() : o.progress,
  };
}

function intIn(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new LoadtestUsageError(`--${name} must be an integer in ${min}..${max}, got ${v}`);
  }
  return v;
}

function secondsIn(v: number): number {
  if (!(v > 0 && v <= LIMITS.durationS)) {
    throw new LoadtestUsageError(`--duration must be in (0, ${LIMITS.durationS}] s, got ${v}`);
  }
  return v;
}
