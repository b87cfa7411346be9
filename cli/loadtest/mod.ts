/**
 * `deno task loadtest --url URL --dictionary ID [--rows 1] [--concurrency 32] [--duration 30]
 * [--backends webgpu,wasm] [--mix encode,steer] [--out DIR] [--seed 0]`: drive a running saeserve
 * on this machine with `concurrency` closed-loop clients for `duration` seconds per backend
 * (chosen per request with the `X-Saeserve-Backend` header, which the service honours when
 * $SAESERVE_ALLOW_BACKEND_OVERRIDE=1). Prints a table per backend and writes OUT/loadtest.json
 * and OUT/loadtest.svg (latency histogram). Only loopback URLs are accepted. $SAESERVE_API_KEY,
 * when set, is sent as `Authorization: Bearer <key>` (never printed or written).
 *
 * The folder's entry: the CLI, and {@link runLoadtest} for the benchmarks.
 * @module
 */

import { type CommandSpec, type OptionSpec, parseOptions } from "../args.ts";
import { runCli } from "../run.ts";
import { LIMITS, type LoadtestOptions, MIX_KINDS } from "./options.ts";
import { runLoadtest } from "./runner.ts";

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
  summary: "Drive a running saeserve on this machine with closed-loop clients, one phase per " +
    "backend\n(X-Saeserve-Backend; the service needs SAESERVE_ALLOW_BACKEND_OVERRIDE=1). Prints " +
    "a table per\nbackend, writes OUT/loadtest.json and OUT/loadtest.svg. Only loopback URLs are " +
    "accepted;\n$SAESERVE_API_KEY, when set, is sent as a bearer token.",
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

if (import.meta.main) {
  await runCli("loadtest", async () => {
    const report = await runLoadtest(parseCli(Deno.args, Deno.env.toObject()));
    console.log(`wrote ${report.files.join(", ")}`);
    return 0;
  });
}
