/**
 * Service configuration from environment variables (api.md "Process"), parsed and checked in
 * one place. Pure: takes the environment as a record.
 * @module
 */

import { DEFAULT_LIMITS, LIMIT_ENV, type Limits } from "../domain/cost.ts";
import { SaeError } from "../domain/errors.ts";
import { isPrecision, type Precision } from "../domain/precision.ts";
import { BACKEND_CHOICES, type BackendChoice } from "../backends/backend.ts";
import { DEFAULT_LIVE_TURNS } from "../backends/turn_order.ts";

/**
 * $SAESERVE_STORE when unset: ./dictionaries under the working directory, or, in the single
 * binary (`deno task compile`), the demo dictionaries embedded in it, whatever the directory.
 */
export const DEFAULT_STORE: string = Deno.build.standalone
  ? new URL("../dictionaries", import.meta.url).href
  : "file://./dictionaries";

/** The longest timer JavaScript keeps (2^31 - 1 ms, about 24.8 days): millisecond settings' cap. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** The longest wait of the micro-batcher for more rows ($SAESERVE_BATCH_WAIT_MS). */
export const MAX_BATCH_WAIT_MS = 1000;

/** Everything main.ts needs to start the service. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly store: string;
  readonly backend: BackendChoice;
  readonly memoryBudget: number;
  readonly maxBodyBytes: number;
  /** Threads per WASM kernel call ($SAESERVE_THREADS; undefined: the machine's cores). */
  readonly threads?: number;
  /**
   * How long (ms) the last WASM kernel worker keeps polling for the next round after each round
   * before it sleeps ($SAESERVE_SPIN_MS; undefined: 0.1, as the others). Costs that worker's core
   * for the time; see wasm/worker.ts.
   */
  readonly spinMs?: number;
  /**
   * Live turns in a row (WASM kernel rounds, WebGPU calls) a waiting research turn lets pass
   * ($SAESERVE_LIVE_TURNS, default 4; 0: research only when no live work waits).
   */
  readonly liveTurns: number;
  /** Stored weight precision of the WASM backend ($SAESERVE_WEIGHTS). */
  readonly weights: Precision;
  /** Whether a request may pick its backend with X-Saeserve-Backend ($SAESERVE_ALLOW_BACKEND_OVERRIDE=1). */
  readonly allowBackendOverride: boolean;
  /** Per-request deadline in ms ($SAESERVE_REQUEST_TIMEOUT_MS, default 30000; 0: none). */
  readonly requestTimeoutMs: number;
  /** API keys from $SAESERVE_API_KEYS (comma-separated); the _FILE variant is read by main.ts. */
  readonly apiKeys: string[];
  readonly apiKeysFile?: string;
  /** Requests per minute per key ($SAESERVE_RATE_LIMIT_PER_MINUTE; 0: none). */
  readonly rateLimitPerMinute: number;
  /** Failed auth attempts per client address per minute before 429 ($SAESERVE_AUTH_FAILURES_PER_MINUTE, default 20; 0: none). */
  readonly authFailuresPerMinute: number;
  /** Put /metrics behind the keys too ($SAESERVE_PROTECT_METRICS=1). */
  readonly protectMetrics: boolean;
  /** Origins allowed cross-origin ($SAESERVE_CORS_ORIGINS, comma-separated or *; empty: none). */
  readonly corsOrigins: readonly string[];
  /** Longest wait for in-flight requests at shutdown ($SAESERVE_SHUTDOWN_GRACE_MS, default 10000). */
  readonly shutdownGraceMs: number;
  /**
   * Job workers per class ($SAESERVE_LIVE_WORKERS, default 1: feature maps of live encodes;
   * $SAESERVE_RESEARCH_WORKERS, default 1: probes, circuits, aligned work, heatmaps).
   */
  readonly jobWorkers: { live: number; research: number };
  /**
   * A kernel round making no progress this long has its pool replaced and its call fails with
   * 503 ($SAESERVE_KERNEL_WATCHDOG_MS, default 30000).
   */
  readonly kernelWatchdogMs: number;
  /** Micro-batching ($SAESERVE_BATCHING=0 turns it off). */
  readonly batching: {
    enabled: boolean;
    maxRows: number;
    maxWaitMs: number;
    maxQueuedRows: number;
  };
  /** One JSON log line per request on stdout ($SAESERVE_LOG=off silences it). */
  readonly requestLogs: boolean;
  /** Cost budgets checked before a request's work starts (see {@link readLimits}). */
  readonly limits: Limits;
}

/**
 * Parse a byte size: a plain number of bytes or a number with KB/MB/GB/KiB/MiB/GiB. Throws
 * SaeError "invalid" for anything else, or with `quiet` answers NaN.
 */
export function parseBytes(text: string, options?: { quiet?: boolean }): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?)?\s*$/i.exec(text);
  if (!m) {
    if (options?.quiet) return NaN;
    throw new SaeError("invalid", `not a byte size: ${JSON.stringify(text)}`);
  }
  const unit = (m[2] ?? "").toLowerCase().replace(/b$/, "");
  const scale: Record<string, number> = {
    "": 1,
    k: 1e3,
    m: 1e6,
    g: 1e9,
    t: 1e12,
    ki: 2 ** 10,
    mi: 2 ** 20,
    gi: 2 ** 30,
    ti: 2 ** 40,
  };
  return Math.floor(Number(m[1]) * scale[unit]);
}

/** Read the configuration from `env`, with the documented defaults. */
export function readConfig(
  env: Record<string, string | undefined>,
  options?: { totalMemory?: number },
): Config {
  const port = Number(env.PORT || 8080);
  if (!/^\s*\d+\s*$/.test(env.PORT || "8080") || port > 65535) {
    throw new SaeError("invalid", `PORT must be an integer from 0 to 65535, not ${env.PORT}`);
  }
  const backend = (env.SAESERVE_BACKEND || "auto") as BackendChoice;
  if (!BACKEND_CHOICES.includes(backend)) {
    throw new SaeError(
      "invalid",
      `SAESERVE_BACKEND must be auto, webgpu, wasm or reference, not ${backend}`,
    );
  }
  const maxBodyMb = Number(env.SAESERVE_MAX_BODY_MB || 64);
  if (!(maxBodyMb > 0) || !Number.isFinite(maxBodyMb)) {
    throw new SaeError(
      "invalid",
      `SAESERVE_MAX_BODY_MB must be a positive number of MiB, not ${env.SAESERVE_MAX_BODY_MB}`,
    );
  }
  // Default budget: half the machine's memory, or 4 GiB when that is unknown.
  let memoryBudget = Math.floor((options?.totalMemory ?? 8 * 2 ** 30) / 2);
  if (env.SAESERVE_MEMORY_BUDGET) {
    const raw = env.SAESERVE_MEMORY_BUDGET;
    const bytes = /^\s*\d/.test(raw) ? parseBytes(raw, { quiet: true }) : NaN;
    if (!(bytes > 0)) {
      throw new SaeError(
        "invalid",
        `SAESERVE_MEMORY_BUDGET must be a byte size such as 4GiB, 512MB or 1000000, not ${raw}`,
      );
    }
    memoryBudget = bytes;
  }
  let threads: number | undefined;
  if (env.SAESERVE_THREADS !== undefined && env.SAESERVE_THREADS !== "") {
    threads = Number(env.SAESERVE_THREADS);
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new SaeError(
        "invalid",
        `SAESERVE_THREADS must be an integer from 1 to 256, not ${env.SAESERVE_THREADS}`,
      );
    }
  }
  let spinMs: number | undefined;
  if (env.SAESERVE_SPIN_MS !== undefined && env.SAESERVE_SPIN_MS.trim() !== "") {
    const raw = env.SAESERVE_SPIN_MS.trim();
    spinMs = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
    if (!(spinMs >= 0 && spinMs <= 1000)) {
      throw new SaeError(
        "invalid",
        `SAESERVE_SPIN_MS must be a number of milliseconds from 0 to 1000, not ${env.SAESERVE_SPIN_MS}`,
      );
    }
  }
  const weights = env.SAESERVE_WEIGHTS || "f32";
  if (!isPrecision(weights)) {
    throw new SaeError(
      "invalid",
      `SAESERVE_WEIGHTS must be f32, bf16, f16 or int8, not ${env.SAESERVE_WEIGHTS}`,
    );
  }
  const count = (name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
      throw new SaeError("invalid", `${name} must be an integer ${range}, not ${raw}`);
    }
    return n;
  };
  // Longer timers fire at once (JavaScript's timers hold 32-bit signed milliseconds).
  const ms = (name: string, fallback: number, min = 0) => count(name, fallback, min, MAX_TIMER_MS);
  const keys = (env.SAESERVE_API_KEYS ?? "").split(",").map((k) => k.trim()).filter((k) => k);
  if (!keys.length && (env.SAESERVE_API_KEYS ?? "") !== "") {
    throw new SaeError(
      "invalid",
      "SAESERVE_API_KEYS is set but names no key (only commas and spaces); unset it to run " +
        "without keys",
    );
  }
  const flag = (name: string, fallback: boolean): boolean => {
    const raw = (env[name] ?? "").trim().toLowerCase();
    if (raw === "") return fallback;
    if (["1", "true", "on", "yes"].includes(raw)) return true;
    if (["0", "false", "off", "no"].includes(raw)) return false;
    throw new SaeError(
      "invalid",
      `${name} must be 1 or 0 (or on / off, true / false), not ${env[name]}`,
    );
  };
  return {
    allowBackendOverride: flag("SAESERVE_ALLOW_BACKEND_OVERRIDE", false),
    requestTimeoutMs: ms("SAESERVE_REQUEST_TIMEOUT_MS", 30_000),
    apiKeys: keys,
    apiKeysFile: env.SAESERVE_API_KEYS_FILE || undefined,
    rateLimitPerMinute: count("SAESERVE_RATE_LIMIT_PER_MINUTE", 0),
    authFailuresPerMinute: count("SAESERVE_AUTH_FAILURES_PER_MINUTE", 20),
    protectMetrics: flag("SAESERVE_PROTECT_METRICS", false),
    corsOrigins: corsOrigins(env.SAESERVE_CORS_ORIGINS),
    shutdownGraceMs: ms("SAESERVE_SHUTDOWN_GRACE_MS", 10_000),
    kernelWatchdogMs: ms("SAESERVE_KERNEL_WATCHDOG_MS", 30_000, 1),
    liveTurns: count("SAESERVE_LIVE_TURNS", DEFAULT_LIVE_TURNS),
    jobWorkers: {
      live: count("SAESERVE_LIVE_WORKERS", 1, 1),
      research: count("SAESERVE_RESEARCH_WORKERS", 1, 1),
    },
    batching: {
      enabled: flag("SAESERVE_BATCHING", true),
      maxRows: count("SAESERVE_BATCH_MAX_ROWS", 256, 1),
      maxWaitMs: count("SAESERVE_BATCH_WAIT_MS", 0, 0, MAX_BATCH_WAIT_MS),
      maxQueuedRows: count("SAESERVE_QUEUE_MAX_ROWS", 8192, 1),
    },
    requestLogs: flag("SAESERVE_LOG", true),
    limits: readLimits(env),
    threads,
    spinMs,
    weights,
    port,
    host: env.HOST || "0.0.0.0",
    store: env.SAESERVE_STORE || DEFAULT_STORE,
    backend,
    memoryBudget,
    maxBodyBytes: Math.floor(maxBodyMb * 2 ** 20),
  };
}

/** Every $SAESERVE_* variable this project reads (the service, the load test, the tests). */
export const KNOWN_VARIABLES: readonly string[] = [
  "SAESERVE_STORE",
  "SAESERVE_BACKEND",
  "SAESERVE_MEMORY_BUDGET",
  "SAESERVE_MAX_BODY_MB",
  "SAESERVE_THREADS",
  "SAESERVE_SPIN_MS",
  "SAESERVE_WEIGHTS",
  "SAESERVE_ALLOW_BACKEND_OVERRIDE",
  "SAESERVE_REQUEST_TIMEOUT_MS",
  "SAESERVE_API_KEYS",
  "SAESERVE_API_KEYS_FILE",
  "SAESERVE_RATE_LIMIT_PER_MINUTE",
  "SAESERVE_AUTH_FAILURES_PER_MINUTE",
  "SAESERVE_PROTECT_METRICS",
  "SAESERVE_CORS_ORIGINS",
  "SAESERVE_SHUTDOWN_GRACE_MS",
  "SAESERVE_KERNEL_WATCHDOG_MS",
  "SAESERVE_LIVE_TURNS",
  "SAESERVE_LIVE_WORKERS",
  "SAESERVE_RESEARCH_WORKERS",
  "SAESERVE_BATCHING",
  "SAESERVE_BATCH_MAX_ROWS",
  "SAESERVE_BATCH_WAIT_MS",
  "SAESERVE_QUEUE_MAX_ROWS",
  "SAESERVE_LOG",
  ...Object.values(LIMIT_ENV),
  "SAESERVE_API_KEY",
  "SAESERVE_LONG_TESTS",
];

/** $SAESERVE_CORS_ORIGINS: `*`, or origins such as `https://app.example` (scheme://host[:port]). */
function corsOrigins(value: string | undefined): string[] {
  const list = (value ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const origin of list) {
    if (origin !== "*" && !/^https?:\/\/[^/\s?#]+$/.test(origin)) {
      throw new SaeError(
        "invalid",
        `SAESERVE_CORS_ORIGINS must be * or origins like https://app.example, not ${origin}`,
      );
    }
  }
  if (list.includes("*") && list.length > 1) {
    throw new SaeError("invalid", "SAESERVE_CORS_ORIGINS: * stands alone");
  }
  return list;
}

/** The $SAESERVE_* variables set in `env` that nothing reads (a typo, most likely). */
export function unknownVariables(env: Record<string, string | undefined>): string[] {
  return Object.keys(env).filter((k) => k.startsWith("SAESERVE_") && !KNOWN_VARIABLES.includes(k))
    .sort();
}

/**
 * The cost budgets from the environment: $SAESERVE_MAX_WORK, $SAESERVE_MAX_PROBE_WORK and
 * $SAESERVE_MAX_CIRCUIT_WORK in work units (`1e11` works), $SAESERVE_MAX_IMAGE_PIXELS, and
 * $SAESERVE_MAX_ANSWER_MB in MiB; unset ones keep the defaults of `domain/cost.ts`.
 */
export function readLimits(env: Record<string, string | undefined>): Limits {
  const read = (key: keyof Limits, scale = 1): number => {
    const raw = env[LIMIT_ENV[key]];
    if (raw === undefined || raw.trim() === "") return DEFAULT_LIMITS[key];
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) {
      throw new SaeError("invalid", `${LIMIT_ENV[key]} must be a positive number, not ${raw}`);
    }
    return Math.floor(n * scale);
  };
  return {
    maxWork: read("maxWork"),
    maxProbeWork: read("maxProbeWork"),
    maxCircuitWork: read("maxCircuitWork"),
    maxImagePixels: read("maxImagePixels"),
    maxAnswerBytes: read("maxAnswerBytes", 2 ** 20),
  };
}
