/**
 * The command-line options of every saeserve CLI, declared once (type, default, description,
 * required): parsed from `Deno.args` with a generated `--help`. Unknown options, missing required
 * ones and bad values raise {@link UsageError}; `-h` / `--help` raises {@link HelpRequested};
 * cli/run.ts turns both into the process's output and exit code.
 * @module
 */

/** How an option's text becomes its value. "list" is a comma-separated list of strings. */
export type OptionType = "string" | "number" | "integer" | "boolean" | "list";

/** One option, as declared by a CLI. */
export interface OptionSpec {
  /** How the value is read. */
  readonly type: OptionType;
  /** One line for --help. */
  readonly description: string;
  /** The value when the option is absent (booleans default to false, `multiple` to []). */
  readonly default?: string | number | boolean;
  /** The option must be given. */
  readonly required?: boolean;
  /** The accepted values of a string option, or of each item of a list. */
  readonly choices?: readonly string[];
  /** A string option that may be repeated; its value is every occurrence, in order. */
  readonly multiple?: boolean;
  /** A number or integer option must be > 0. */
  readonly positive?: boolean;
  /** The value's name in --help (default: from the type, e.g. N). */
  readonly placeholder?: string;
}

/** A CLI: its `deno task` name, a summary for --help, and its options by name (without "--"). */
export interface CommandSpec<O extends Record<string, OptionSpec>> {
  /** As in `deno task NAME`. */
  readonly name: string;
  /** What the command does, shown under the usage line. */
  readonly summary: string;
  /** One example invocation's arguments (after `deno task NAME`), shown at the end of --help. */
  readonly example?: string;
  readonly options: O;
}

type TextOf<S extends OptionSpec> = S extends { choices: readonly (infer C)[] } ? C : string;

type ValueOf<S extends OptionSpec> = S["type"] extends "number" | "integer" ? number
  : S["type"] extends "boolean" ? boolean
  : S["type"] extends "list" ? TextOf<S>[]
  : S extends { multiple: true } ? string[]
  : TextOf<S>;

/** The parsed values: an option without default, `required` or `multiple` may be undefined. */
export type OptionValues<O extends Record<string, OptionSpec>> = {
  -readonly [K in keyof O]: O[K] extends
    { required: true } | { default: unknown } | { type: "boolean" } | { multiple: true }
    ? ValueOf<O[K]>
    : ValueOf<O[K]> | undefined;
};

/** A bad command line: the CLI prints it in one line with a pointer to --help and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** `-h` / `--help` was given: the CLI prints `text` and exits 0. */
export class HelpRequested extends Error {
  override name = "HelpRequested";
  /** The usage text. */
  readonly text: string;

  /** Carry the usage `text` to the top-level handler. */
  constructor(text: string) {
    super("help requested");
    this.text = text;
  }
}

/** Parse `args` against `spec`; throws {@link HelpRequested} or {@link UsageError}. */
export function parseOptions<const O extends Record<string, OptionSpec>>(
  spec: CommandSpec<O>,
  args: readonly string[],
): OptionValues<O> {
  const end = args.indexOf("--");
  // --debug belongs to the top-level handler (cli/run.ts): stack traces on failure.
  const flags = (end < 0 ? args : args.slice(0, end)).filter((a) => a !== "--debug");
  if (flags.includes("-h") || flags.includes("--help")) throw new HelpRequested(usage(spec));
  if (end >= 0 && end < args.length - 1) {
    throw new UsageError(`unexpected argument ${JSON.stringify(args[end + 1])}`);
  }
  const given = new Map<string, string[]>();
  for (let i = 0; i < flags.length; i++) {
    const arg = flags[i];
    if (!arg.startsWith("--") || arg === "--") {
      throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    }
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const opt = Object.hasOwn(spec.options, name) ? spec.options[name] : undefined;
    if (!opt) throw new UsageError(`unknown option --${name}${suggestion(name, spec)}`);
    let text: string;
    if (opt.type === "boolean") {
      text = eq < 0 ? "true" : arg.slice(eq + 1);
      if (text !== "true" && text !== "false") {
        throw new UsageError(`--${name} takes no value (or =true / =false), not ${quote(text)}`);
      }
    } else if (eq >= 0) {
      text = arg.slice(eq + 1);
    } else {
      const next = flags[i + 1];
      if (next === undefined || next.startsWith("--")) {
        throw new UsageError(`--${name} needs a value`);
      }
      text = next;
      i++;
    }
    const seen = given.get(name) ?? [];
    if (seen.length && !opt.multiple) throw new UsageError(`--${name} is given more than once`);
    given.set(name, [...seen, text]);
  }
  const missing = Object.keys(spec.options).filter((n) =>
    spec.options[n].required && !given.has(n)
  );
  if (missing.length) {
    const names = missing.map((n) => `--${n}`);
    throw new UsageError(
      `${names.join(", ")} ${names.length === 1 ? "is" : "are"} required`,
    );
  }
  const values: Record<string, unknown> = {};
  for (const [name, opt] of Object.entries(spec.options)) {
    const texts = given.get(name);
    if (texts === undefined) values[name] = absent(opt);
    else if (opt.multiple) values[name] = texts.map((t) => convert(name, opt, t));
    else values[name] = convert(name, opt, texts[0]);
  }
  return values as OptionValues<O>;
}

function absent(opt: OptionSpec): unknown {
  if (opt.type === "boolean") return opt.default ?? false;
  if (opt.multiple) return [];
  if (opt.default === undefined) return undefined;
  if (opt.type === "list") return splitList(String(opt.default));
  return opt.default;
}

function convert(name: string, opt: OptionSpec, text: string): unknown {
  switch (opt.type) {
    case "boolean":
      return text === "true";
    case "number":
    case "integer": {
      const v = Number(text);
      const integer = opt.type === "integer";
      const kind = `${opt.positive ? "a positive " : integer ? "an " : "a "}${
        integer ? "integer" : "number"
      }`;
      if (!text.trim() || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
        throw new UsageError(`--${name} must be ${kind}, not ${quote(text)}`);
      }
      if (opt.positive && !(v > 0)) {
        throw new UsageError(`--${name} must be ${kind}, not ${quote(text)}`);
      }
      return v;
    }
    case "list": {
      const items = splitList(text);
      if (!items.length) throw new UsageError(`--${name} needs at least one item`);
      for (const item of items) checkChoice(name, opt, item);
      return items;
    }
    default:
      checkChoice(name, opt, text);
      return text;
  }
}

function checkChoice(name: string, opt: OptionSpec, text: string): void {
  if (opt.choices && !opt.choices.includes(text)) {
    throw new UsageError(`--${name} must be one of ${opt.choices.join(", ")}, not ${quote(text)}`);
  }
}

function splitList(text: string): string[] {
  return text.split(",").map((x) => x.trim()).filter((x) => x !== "");
}

function quote(text: string): string {
  return JSON.stringify(text);
}

/** " (did you mean --steps?)" when a declared option is one or two edits from `name`. */
function suggestion(name: string, spec: CommandSpec<Record<string, OptionSpec>>): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of [...Object.keys(spec.options), "help"]) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best === undefined ? "" : ` (did you mean --${best}?)`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

function placeholder(opt: OptionSpec): string {
  if (opt.placeholder) return opt.placeholder;
  if (opt.choices) return opt.type === "list" ? `${opt.choices.join(",")}` : opt.choices.join("|");
  switch (opt.type) {
    case "number":
    case "integer":
      return "N";
    case "list":
      return "A,B";
    default:
      return "VALUE";
  }
}

/** The --help text of `spec`: usage line, summary, one line per option. */
export function usage<O extends Record<string, OptionSpec>>(spec: CommandSpec<O>): string {
  const entries = Object.entries(spec.options);
  const flag = (name: string, opt: OptionSpec): string =>
    opt.type === "boolean" ? `--${name}` : `--${name} ${placeholder(opt)}`;
  const required = entries.filter(([, o]) => o.required).map(([n, o]) => flag(n, o));
  const rows = entries.map(([name, opt]) => {
    const notes = [
      opt.required ? "required" : "",
      opt.multiple ? "repeatable" : "",
      opt.default !== undefined && opt.type !== "boolean" ? `default: ${opt.default}` : "",
    ].filter((n) => n !== "");
    return [flag(name, opt), opt.description + (notes.length ? ` (${notes.join("; ")})` : "")];
  });
  rows.push(["--debug", "Print the stack trace of a failure."]);
  rows.push(["-h, --help", "Show this help and exit."]);
  const width = Math.min(32, Math.max(...rows.map(([f]) => f.length)));
  const lines = rows.map(([f, d]) =>
    f.length > width ? `  ${f}\n  ${" ".repeat(width)}  ${d}` : `  ${f.padEnd(width)}  ${d}`
  );
  return [
    `usage: deno task ${spec.name} ${[...required, "[options]"].join(" ")}`,
    "",
    spec.summary,
    "",
    "options:",
    ...lines,
    "",
    ...(spec.example
      ? ["example:", `  npx -y deno@2.9.6 task ${spec.name} ${spec.example}`, ""]
      : []),
  ].join("\n");
}
