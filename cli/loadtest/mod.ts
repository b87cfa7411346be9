/**
 * `deno task loadtest --url URL --dictionary ID [--rows 1] [--concurrency 32] [--duration 30]
 * [--backends webgpu,wasm] [--mix encode,steer] [--out DIR] [--seed 0]`: drive a running saeserve
 * on this machine with `concurrency` closed-loop clients for `duration` seconds per backend
 * (chosen per request with the `X-Saeserve-Backend` header, which the service honours when
 * $SAESERVE_ALLOW_BACKEND_OVERRIDE=1). During each phase a progress line a second goes to stderr
 * (req/s, p50, p99, errors so far; rewritten in place on a terminal, a line per 5 s otherwise).
 * Prints a table per backend and writes OUT/loadtest.json and OUT/loadtest.svg (latency
 * histogram with p50 / p95 / p99 marked and each backend's adapter, as /readyz reports it, named).
 * Only loopback URLs are accepted. $SAESERVE_API_KEY, when set, is sent as
 * `Authorization: Bearer <key>` (never printed or written).
 *
 * The folder's entry: the CLI, and {@link runLoadtest} for the benchmarks.
 * @module
 */

import { type CommandSpec, type OptionSpec, parseOptions } from "../args.ts";
import { runCli } from "../run.ts";
import { LIMITS, type LoadtestOptions, MIX_KINDS } from "./options.ts";
import { runLoadtest } from "./runner.ts";
import type { LoadtestReport } from "./report.ts";

export {
  isLoopback,
  LIMITS,
  type LoadtestOptions,
  LoadtestUsageError,
  type MixKind,
} from "./options.ts";
export { formatTable, type LoadtestReport, type PhaseReport } from "./report.ts";
export { runLoadtest } from "./runner.ts";

/** The options of `deno task loadtest`. */
export const LOADTEST_SPEC = {
  name: "loadtest",
  example: "--url http://localhost:8080 --dictionary demo-topk --backends wasm --duration 10",
  summary: "Drive a running saeserve on this machine with closed-loop clients, one phase per " +
    "backend\n(X-Saeserve-Backend; the service needs SAESERVE_ALLOW_BACKEND_OVERRIDE=1). While " +
    "a phase runs,\na progress line (req/s, p50, p99, errors so far) goes to stderr each second " +
    "(every 5 s\nwhen stderr is not a terminal). Prints a table per backend, writes " +
    "OUT/loadtest.json and\nOUT/loadtest.svg (latency histogram, p50/p95/p99 marked, each " +
    "backend's adapter named as\n/readyz reports it). Only loopback URLs are accepted; " +
    "$SAESERVE_API_KEY, when set, is sent\nas a bearer token.",
  options: {
    url: {
      type: "string",
      required: true,
      placeholder: "URL",
      description: "The service, e.g. http://127.0.0.1:8080 (loopback only).",
    },
    dictionary: {
      type: "string",
      required: true,
      placeholder: "ID",
      description: "The dictionary to encode / steer with.",
    },
    rows: {
      type: "integer",
      default: 1,
      description: `Activation rows per request (1..${LIMITS.rows}).`,
    },
    concurrency: {
      type: "integer",
      default: 32,
      description: `Closed-loop clients (1..${LIMITS.concurrency}).`,
    },
    duration: {
      type: "number",
      default: 30,
      description: `Seconds per backend (at most ${LIMITS.durationS}).`,
    },
    backends: {
      type: "list",
      default: "webgpu,wasm",
      placeholder: "NAME,NAME",
      description: "One phase per backend, in order.",
    },
    mix: {
      type: "list",
      default: "encode,steer",
      choices: MIX_KINDS,
      description: "Request kinds, taken round-robin.",
    },
    out: { type: "string", default: ".", placeholder: "DIR", description: "Output folder." },
    seed: { type: "integer", default: 0, description: "Seed of the activations and features." },
  },
} as const satisfies CommandSpec<Record<string, OptionSpec>>;

/** The CLI arguments as {@link runLoadtest} options ($SAESERVE_API_KEY read from `env`). */
export function parseCli(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
): LoadtestOptions {
  const values = parseOptions(LOADTEST_SPEC, args);
  return { ...values, apiKey: env.SAESERVE_API_KEY || undefined };
}

/**
 * Why a report's numbers do not stand for what was asked, one line each: a phase where more
 * than 10 % of the requests failed, or one the service answered on another backend.
 */
export function failedPhases(report: LoadtestReport): string[] {
  const out: string[] = [];
  for (const p of report.phases) {
    const failed = p.requests - p.ok;
    if (p.requests === 0 || failed > 0.1 * p.requests) {
      out.push(`${p.backend}: ${failed} of ${p.requests} requests failed`);
    }
    if (p.backendMismatch) {
      out.push(
        `${p.backend}: the service answered on ${Object.keys(p.reportedBackends).join(", ")}`,
      );
    }
  }
  return out;
}

if (import.meta.main) {
  await runCli("loadtest", async () => {
    const report = await runLoadtest(parseCli(Deno.args, Deno.env.toObject()));
    console.log(`wrote ${report.files.join(", ")}`);
    // The report is kept either way; a run whose figures mean something else exits 1.
    const failed = failedPhases(report);
    for (const line of failed) console.error(`error: ${line}`);
    return failed.length ? 1 : 0;
  });
}
