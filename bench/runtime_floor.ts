/**
 * Where an idle service's fixed memory comes from: each case runs in its own `deno run`
 * process (this file with `--probe`), which imports what the case names, starts the case's
 * empty Deno workers, runs V8's memory-reducing collection and reads its own /proc status.
 * Cases: an empty script; 1, 2 and 4 workers that do nothing (the service runs one kernel
 * worker per core); hono; zod; every module `main.ts` imports, without starting the service.
 * The idle service itself is `bench/memory_by_precision.ts`'s "idle RSS".
 *
 *   flock /tmp/bench.lock deno run -A bench/runtime_floor.ts [--runs 3] [--v8-flags ...]
 * @module
 */

import { parseOptions } from "../cli/args.ts";
import { runCli } from "../cli/run.ts";

const SPEC = {
  name: "bench-runtime-floor",
  summary: "Resident memory of the Deno runtime, its workers and the service's modules.",
  options: {
    runs: { type: "integer", positive: true, default: 3, description: "Processes per case." },
    "v8-flags": {
      type: "string",
      default: "--expose-gc",
      description: "--v8-flags of each probe (--expose-gc is added when missing).",
    },
    probe: { type: "boolean", description: "Internal: measure this process and print JSON." },
    workers: { type: "integer", default: 0, description: "Internal: empty workers to start." },
    import: { type: "string", multiple: true, description: "Internal: modules to import." },
  },
} as const;

/** One process's memory after the collection, in bytes. */
export interface FloorReading {
  readonly rss: number;
  readonly anon: number;
  readonly file: number;
  /** The main isolate's heap (V8's total, after the collection). */
  readonly heap: number;
}

/** A case: what its probe imports and how many empty workers it starts. */
export interface FloorCase {
  readonly name: string;
  readonly imports: readonly string[];
  readonly workers: number;
}

const MAIN = new URL("../main.ts", import.meta.url).href;
/** A worker that says it is up and then does nothing. */
const EMPTY_WORKER = `data:text/javascript,${encodeURIComponent('self.postMessage("up");')}`;

/** The cases measured, in order. */
export const CASES: readonly FloorCase[] = [
  { name: "empty script", imports: [], workers: 0 },
  { name: "1 empty worker", imports: [], workers: 1 },
  { name: "2 empty workers", imports: [], workers: 2 },
  { name: "4 empty workers", imports: [], workers: 4 },
  { name: "import hono", imports: ["hono"], workers: 0 },
  { name: "import zod", imports: ["zod"], workers: 0 },
  { name: "import main.ts's modules", imports: [MAIN], workers: 0 },
];

/** This process's memory from /proc/self/status and its heap from Deno.memoryUsage(). */
function readSelf(): FloorReading {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kb = (key: string) =>
    Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return {
    rss: kb("VmRSS"),
    anon: kb("RssAnon"),
    file: kb("RssFile"),
    heap: Deno.memoryUsage().heapTotal,
  };
}

/** The probe: imports, workers, collection, then one JSON line on stdout. */
async function probe(imports: readonly string[], workers: number): Promise<void> {
  for (const specifier of imports) await import(specifier);
  const started: Worker[] = [];
  for (let i = 0; i < workers; i++) {
    const worker = new Worker(EMPTY_WORKER, { type: "module" });
    await new Promise((resolve) => worker.onmessage = resolve);
    started.push(worker);
  }
  const gc = (globalThis as { gc?: (options: Record<string, string>) => void }).gc;
  if (!gc) throw new Error("the probe needs --v8-flags=--expose-gc");
  for (let i = 0; i < 2; i++) {
    await new Promise((r) => setTimeout(r, 300));
    gc({ type: "major", execution: "sync", flavor: "last-resort" });
  }
  console.log(JSON.stringify(readSelf()));
  for (const worker of started) worker.terminate();
}

/** Run `c` in a fresh process `runs` times; the median reading by RSS. */
async function measure(c: FloorCase, options: { runs: number; v8Flags: string }): Promise<
  FloorReading
> {
  const flags = options.v8Flags.includes("--expose-gc")
    ? options.v8Flags
    : `${options.v8Flags},--expose-gc`;
  const readings: FloorReading[] = [];
  for (let i = 0; i < options.runs; i++) {
    const args = ["run", "-A", `--v8-flags=${flags}`, new URL(import.meta.url).pathname, "--probe"];
    args.push("--workers", String(c.workers));
    for (const specifier of c.imports) args.push("--import", specifier);
    const out = await new Deno.Command(Deno.execPath(), { args, stderr: "inherit" }).output();
    if (!out.success) throw new Error(`the probe for "${c.name}" failed (exit ${out.code})`);
    readings.push(JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!));
  }
  readings.sort((a, b) => a.rss - b.rss);
  return readings[readings.length >> 1];
}

const mib = (b: number) => (b / 2 ** 20).toFixed(1);

if (import.meta.main) {
  await runCli(SPEC.name, async () => {
    const o = parseOptions(SPEC, Deno.args);
    if (o.probe) return await probe(o.import, o.workers);
    console.log(`median of ${o.runs} processes per case; --v8-flags=${o["v8-flags"]}`);
    console.log("| case | RSS MiB | anonymous MiB | file-backed MiB | V8 heap MiB |");
    console.log("|---|---:|---:|---:|---:|");
    for (const c of CASES) {
      const r = await measure(c, { runs: o.runs, v8Flags: o["v8-flags"] });
      console.log(
        `| ${c.name} | ${mib(r.rss)} | ${mib(r.anon)} | ${mib(r.file)} | ${mib(r.heap)} |`,
      );
    }
  });
}
