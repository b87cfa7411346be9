/**
 * The top-level handler, and every CLI run as a user runs it: `--help` prints the usage and exits
 * 0; an unknown option prints one `error:` line and exits 2; neither prints a stack.
 * @module
 */

import assert from "node:assert/strict";
import { SaeError } from "../domain/errors.ts";
import { HelpRequested, UsageError } from "./args.ts";
import { CliError, report } from "./run.ts";

const CLIS: Record<string, string> = {
  train: "./train.ts",
  "train-aligned": "./train_aligned.ts",
  "probe-bench": "./probe_bench.ts",
  circuits: "./circuits.ts",
  loadtest: "./loadtest/mod.ts",
};

async function run(path: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(path, import.meta.url).pathname, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

Deno.test("report: help to stdout (0), usage errors (2), expected errors (1) in one line", () => {
  assert.deepEqual(report(new HelpRequested("usage: x\n"), "x"), {
    stdout: "usage: x\n",
    code: 0,
  });
  assert.deepEqual(report(new UsageError("unknown option --step"), "train"), {
    stderr: "error: unknown option --step (see: deno task train --help)",
    code: 2,
  });
  for (
    const e of [
      new SaeError("invalid", "PORT abc is not a port"),
      new CliError("no dataset folders in d"),
      new Deno.errors.NotFound("No such file or directory (os error 2): readfile 'x.npy'"),
    ]
  ) {
    const out = report(e, "x");
    assert.equal(out.code, 1);
    assert.equal(out.stderr, `error: ${e.message}`);
  }
  const unexpected = report(new TypeError("x is undefined"), "x");
  assert.equal(unexpected.code, 1);
  assert.match(unexpected.stderr!, /^error: unexpected failure\nTypeError: x is undefined\n\s+at /);
});

Deno.test("every CLI: --help prints its usage (exit 0); an unknown option is one line (exit 2)", async () => {
  await Promise.all(
    Object.entries(CLIS).map(async ([name, path]) => {
      const help = await run(path, ["--help"]);
      assert.equal(help.code, 0, `${name}: ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`^usage: deno task ${name} `), name);
      assert.match(help.stdout, /-h, --help/, name);
      assert.match(
        help.stdout,
        new RegExp(`\\nexample:\\n  npx -y deno@2.9.6 task ${name} --`),
        name,
      );
      assert.equal(help.stderr, "", name);
      for (const flag of ["--step", "--label"]) {
        const bad = await run(path, [flag, "3"]);
        assert.equal(bad.code, 2, `${name} ${flag}: ${bad.stderr}`);
        assert.match(bad.stderr, new RegExp(`^error: unknown option ${flag}`), name);
        assert.match(bad.stderr, /--help/, name);
        assert.equal(bad.stderr.trimEnd().split("\n").length, 1, `${name}: ${bad.stderr}`);
        assert.ok(!bad.stderr.includes("Uncaught") && !bad.stderr.includes("    at "), bad.stderr);
      }
    }),
  );
});

Deno.test("probe-bench and circuits: a missing data folder or file is one line (exit 1)", async () => {
  const bench = await run(CLIS["probe-bench"], ["--data", "/nonexistent/saeserve-data"]);
  assert.equal(bench.code, 1);
  assert.equal(bench.stderr, "error: --data /nonexistent/saeserve-data: no such folder\n");
  const circuits = await run(CLIS.circuits, ["--data", "/nonexistent/h.npy", "--labels", "l.npy"]);
  assert.equal(circuits.code, 1);
  assert.match(circuits.stderr, /^error: .*\/nonexistent\/h\.npy/);
  assert.equal(circuits.stderr.trimEnd().split("\n").length, 1, circuits.stderr);
});

Deno.test("report: --debug adds the stack to an expected error", () => {
  const e = new CliError("no dataset folders in x");
  assert.deepEqual(report(e, "probe-bench"), { stderr: "error: no dataset folders in x", code: 1 });
  const debug = report(e, "probe-bench", { debug: true });
  assert.equal(debug.code, 1);
  assert.match(debug.stderr ?? "", /no dataset folders in x\n\s+at /);
});
