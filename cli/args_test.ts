/**
 * The shared option parser: types and defaults, repeated and list options, the generated --help,
 * and one clear usage error for each kind of bad command line.
 * @module
 */

import assert from "node:assert/strict";
import {
  type CommandSpec,
  HelpRequested,
  type OptionSpec,
  parseOptions,
  usage,
  UsageError,
} from "./args.ts";

const SPEC = {
  name: "demo",
  summary: "A demo command.",
  options: {
    data: { type: "string", required: true, placeholder: "DIR", description: "Input folder." },
    steps: { type: "integer", positive: true, description: "Steps." },
    lr: { type: "number", default: 0.001, description: "Learning rate." },
    mode: { type: "string", default: "fast", choices: ["fast", "slow"], description: "Mode." },
    ks: { type: "list", default: "16,128", description: "Sizes." },
    tag: { type: "string", multiple: true, description: "Tags." },
    quick: { type: "boolean", description: "Be quick." },
  },
} as const satisfies CommandSpec<Record<string, OptionSpec>>;

function usageError(args: string[], pattern: RegExp): void {
  assert.throws(
    () => parseOptions(SPEC, args),
    (e) => e instanceof UsageError && pattern.test(e.message) && !e.message.includes("\n"),
  );
}

Deno.test("parseOptions: typed values and defaults", () => {
  const v = parseOptions(SPEC, ["--data", "d", "--steps=5", "--tag", "a", "--tag", "b", "--quick"]);
  assert.deepEqual(v, {
    data: "d",
    steps: 5,
    lr: 0.001,
    mode: "fast",
    ks: ["16", "128"],
    tag: ["a", "b"],
    quick: true,
  });
  const w = parseOptions(SPEC, ["--data=x=y", "--lr", "-1e-3", "--mode", "slow", "--ks", "4, 8,"]);
  assert.deepEqual([w.data, w.lr, w.mode, w.ks, w.steps, w.tag, w.quick], [
    "x=y",
    -0.001,
    "slow",
    ["4", "8"],
    undefined,
    [],
    false,
  ]);
  assert.equal(parseOptions(SPEC, ["--data", "d", "--quick=false"]).quick, false);
});

Deno.test("parseOptions: -h / --help wins over everything, with the generated usage", () => {
  for (const args of [["--help"], ["-h"], ["--bogus", "--help"], ["--data", "d", "-h"]]) {
    assert.throws(
      () => parseOptions(SPEC, args),
      (e) => e instanceof HelpRequested && e.text === usage(SPEC),
    );
  }
});

Deno.test("parseOptions: unknown, missing and bad options are one-line usage errors", () => {
  usageError(["--data", "d", "--step", "3"], /^unknown option --step \(did you mean --steps\?\)$/);
  usageError(["--data", "d", "--label", "x"], /^unknown option --label$/);
  usageError([], /^--data is required$/);
  usageError(["--data"], /^--data needs a value$/);
  usageError(["--data", "--quick"], /^--data needs a value$/);
  usageError(["--data", "d", "--steps", "abc"], /^--steps must be a positive integer, not "abc"$/);
  usageError(["--data", "d", "--steps", "2.5"], /--steps must be a positive integer/);
  usageError(["--data", "d", "--steps", "0"], /--steps must be a positive integer, not "0"/);
  usageError(["--data", "d", "--lr", ""], /^--lr must be a number, not ""$/);
  usageError(["--data", "d", "--lr", "1e999"], /--lr must be a number/);
  usageError(
    ["--data", "d", "--mode", "medium"],
    /^--mode must be one of fast, slow, not "medium"$/,
  );
  usageError(["--data", "d", "--ks", ","], /^--ks needs at least one item$/);
  usageError(["--data", "d", "--quick=yes"], /--quick takes no value/);
  usageError(["--data", "d", "--data", "e"], /^--data is given more than once$/);
  usageError(["--data", "d", "stray"], /^unexpected argument "stray"$/);
  usageError(["--data", "d", "--", "x"], /^unexpected argument "x"$/);
});

Deno.test("usage: usage line with the required options, one line per option, defaults shown", () => {
  const text = usage(SPEC);
  const lines = text.split("\n");
  assert.equal(lines[0], "usage: deno task demo --data DIR [options]");
  assert.equal(lines[2], "A demo command.");
  assert.match(text, /^ {2}--data DIR +Input folder\. \(required\)$/m);
  assert.match(text, /^ {2}--lr N +Learning rate\. \(default: 0\.001\)$/m);
  assert.match(text, /^ {2}--mode fast\|slow +Mode\. \(default: fast\)$/m);
  assert.match(text, /^ {2}--tag VALUE +Tags\. \(repeatable\)$/m);
  assert.match(text, /^ {2}--quick +Be quick\.$/m);
  assert.match(text, /^ {2}-h, --help +Show this help and exit\.$/m);
});
