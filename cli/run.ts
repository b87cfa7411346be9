/**
 * The top-level handler of every CLI and of main.ts: expected failures (a bad command line, a
 * domain SaeError / FormatError, a missing file or folder, a bad environment value) print one
 * `error: ...` line and exit (2 for the command line, 1 otherwise); only an unexpected error
 * prints its stack, or any error with `--debug` (or SAESERVE_DEBUG=1, for main.ts).
 * @module
 */

import { SaeError } from "../domain/errors.ts";
import { HelpRequested, UsageError } from "./args.ts";

/** An expected failure a CLI reports in one line (exit code 1), e.g. "no dataset folders in X". */
export class CliError extends Error {
  override name = "CliError";
}

const EXPECTED_OS_ERRORS = [
  Deno.errors.NotFound,
  Deno.errors.PermissionDenied,
  Deno.errors.NotCapable,
  Deno.errors.AlreadyExists,
  Deno.errors.IsADirectory,
  Deno.errors.NotADirectory,
  Deno.errors.AddrInUse,
  Deno.errors.AddrNotAvailable,
  Deno.errors.ConnectionRefused,
];

/** Whether `e` is a failure the user can act on from its message alone (no stack needed). */
export function isExpectedError(e: unknown): e is Error {
  return e instanceof SaeError || e instanceof CliError || e instanceof UsageError ||
    EXPECTED_OS_ERRORS.some((kind) => e instanceof kind);
}

/** What the handler prints for `e` and the exit code it uses; `name` is the `deno task` name. */
export function report(
  e: unknown,
  name: string,
  options?: { debug?: boolean },
): { stdout?: string; stderr?: string; code: number } {
  if (e instanceof HelpRequested) return { stdout: e.text, code: 0 };
  const message = e instanceof Error ? e.message.split("\n")[0] : String(e);
  if (e instanceof UsageError) {
    return { stderr: `error: ${message} (see: deno task ${name} --help)`, code: 2 };
  }
  if (isExpectedError(e) && !options?.debug) return { stderr: `error: ${message}`, code: 1 };
  return {
    stderr: `error: unexpected failure\n${e instanceof Error ? e.stack : String(e)}`,
    code: 1,
  };
}

/**
 * Run a CLI's `body` under the handler. A number `body` resolves to becomes the exit code; on
 * failure the process prints {@link report}'s lines and exits with its code.
 */
export async function runCli(name: string, body: () => Promise<void | number>): Promise<void> {
  let code: void | number;
  try {
    code = await body();
  } catch (e) {
    const debug = Deno.args.includes("--debug") || Deno.env.get("SAESERVE_DEBUG") === "1";
    const out = report(e, name, { debug });
    if (out.stdout !== undefined) console.log(out.stdout);
    if (out.stderr !== undefined) console.error(out.stderr);
    Deno.exit(out.code);
  }
  if (typeof code === "number") Deno.exit(code);
}
