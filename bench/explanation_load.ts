/**
 * How long loading explanations freezes the thread that answers requests: generates
 * explanations (domain/features/search_corpus.ts), then reads and indexes them three ways while
 * a 1 ms `setInterval` probe records the longest gap between its ticks (the longest stall):
 *
 * - `sync`: parseExplanations then indexExplanations (what the loader did before);
 * - `sliced`: parseExplanationsInSlices then indexExplanationsInSlices (10 ms slices, the
 *   loader now);
 * - `worker`: parsed and indexed in a worker, sent back as MiniSearch's toJSON, loaded here
 *   with `MiniSearch.loadJSONAsync` (its own batched load); the main thread's share only.
 *
 * Each way runs in its own process (--expose-gc), which also reports the heap growth of the
 * parsed and indexed explanations per byte of text (what service/loaders/explanations.ts
 * charges the memory budget). The sliced index is checked against the sync one on a few
 * queries (same ids and scores).
 *
 *   deno run -A bench/explanation_load.ts [--size 1000000] [--modes sync,sliced,worker]
 *     [--format jsonl|neuronpedia]
 *
 * (`neuronpedia`: the same explanations as Neuronpedia's export, a JSON array of objects with
 * `index`, `description` and four metadata fields.)
 * @module
 */

import MiniSearch from "minisearch";
import { parseArgs } from "node:util";
import {
  type ExplanationSet,
  parseExplanations,
  parseExplanationsInSlices,
} from "../domain/features/explanations.ts";
import {
  type ExplanationIndex,
  explanationMiniSearch,
  indexExplanations,
  indexExplanationsInSlices,
} from "../domain/features/search.ts";
import { generateExplanations } from "../domain/features/search_corpus.ts";

const MiB = 1 << 20;
const inWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !==
  "undefined";
/** MiniSearch's options for loadJSON (the processing options do not matter to a load). */
const LOAD_OPTIONS = { fields: ["text"], storeFields: [] };

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    args: Deno.args,
    options: {
      size: { type: "string" },
      modes: { type: "string" },
      child: { type: "string" },
      format: { type: "string" },
    },
  });
  const size = Number(args.size ?? 1_000_000);
  if (args.child) {
    await child(args.child, { size, neuronpedia: args.format === "neuronpedia" });
    return;
  }
  const modes = (args.modes ?? "sync,sliced,worker").split(",");
  console.log(`load average at the start: ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  for (const mode of modes) {
    const run = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        new URL(import.meta.url).pathname,
        `--size=${size}`,
        `--child=${mode}`,
        `--format=${args.format ?? "jsonl"}`,
      ],
      stdout: "inherit",
      stderr: "inherit",
    });
    const { code } = await run.output();
    if (code !== 0) Deno.exit(code);
  }
  console.log(`load average at the end: ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
}

/** The longest gap between ticks of a 1 ms interval, per phase. */
class StallProbe {
  #last = performance.now();
  #longest = 0;
  #timer = setInterval(() => this.#tick(), 1);

  #tick(): void {
    const now = performance.now();
    this.#longest = Math.max(this.#longest, now - this.#last);
    this.#last = now;
  }

  /** The longest gap since the last call (the current one counted too). */
  take(): number {
    this.#tick();
    const longest = this.#longest;
    this.#longest = 0;
    return longest;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Heap in use plus array buffers after a full collection, in MiB. */
function heap(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const m = Deno.memoryUsage();
  return (m.heapUsed + m.external) / MiB;
}

/** The generated explanations as JSON Lines, or as Neuronpedia's export (a JSON array). */
function explanationFile(size: number, neuronpedia: boolean) {
  const corpus = generateExplanations(size, { seed: 1 });
  if (!neuronpedia) return { text: corpus.jsonl, file: "e.jsonl", vocabulary: corpus.vocabulary };
  const entries = corpus.jsonl.trimEnd().split("\n").map((line) => {
    const { feature, text } = JSON.parse(line);
    return {
      modelId: "gemma-2-2b",
      layer: "20-gemmascope-res-1m",
      index: String(feature),
      description: text,
      explanationModelName: "gpt-4o-mini",
      typeName: "oai_token-act-pair",
    };
  });
  return { text: JSON.stringify(entries), file: "e.json", vocabulary: corpus.vocabulary };
}

async function child(mode: string, options: { size: number; neuronpedia: boolean }) {
  const { size } = options;
  const corpus = explanationFile(size, options.neuronpedia);
  const textBytes = corpus.text.length; // ASCII: one byte per character
  const before = heap();
  const probe = new StallProbe();
  // Let the probe tick before the load starts.
  await new Promise((resolve) => setTimeout(resolve, 20));
  probe.take();
  const t0 = performance.now();
  const phases: string[] = [];
  const phase = (name: string, since: number) => {
    phases.push(
      `${name} ${((performance.now() - since) / 1000).toFixed(1)} s (longest stall ${
        probe.take().toFixed(0)
      } ms)`,
    );
  };
  let kept: unknown;
  let check = () => {};
  if (mode === "sync" || mode === "sliced") {
    const options = { file: corpus.file, dSae: size };
    let t = performance.now();
    const set = mode === "sync"
      ? parseExplanations(corpus.text, options)
      : await parseExplanationsInSlices(corpus.text, options);
    phase("reading", t);
    t = performance.now();
    const index = mode === "sync" ? indexExplanations(set) : await indexExplanationsInSlices(set);
    phase("indexing", t);
    kept = [set, index];
    if (mode === "sliced") check = () => sameAsSync(set, index, corpus.vocabulary.slice(0, 30));
  } else if (mode === "worker") {
    const worker = new Worker(import.meta.url, { type: "module" });
    let t = performance.now();
    const json = await new Promise<string>((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.postMessage({ text: corpus.text, file: corpus.file, size });
    });
    worker.terminate();
    phase(`worker: reading, indexing, toJSON (${(json.length / MiB).toFixed(0)} MiB)`, t);
    t = performance.now();
    kept = await MiniSearch.loadJSONAsync(json, LOAD_OPTIONS);
    phase("loadJSONAsync here", t);
  } else {
    throw new RangeError(`no mode ${mode}`);
  }
  const total = performance.now() - t0;
  const longest = Math.max(...phases.map((p) => Number(p.match(/stall (\d+)/)![1])));
  probe.stop();
  const grown = heap() - before;
  console.log(
    `${mode}: ${size} explanations as ${corpus.file} (${(textBytes / MiB).toFixed(0)} MiB): load ${
      (total / 1000).toFixed(1)
    } s, longest stall ${longest} ms\n  ${phases.join("\n  ")}\n  heap growth ${
      grown.toFixed(0)
    } MiB = ${(grown * MiB / textBytes).toFixed(1)} bytes per text byte, ${
      (grown * MiB / size).toFixed(0)
    } per explanation`,
  );
  if (!kept) throw new Error("nothing loaded");
  check();
}

/** Throws unless the index answers the queries as the index built at once does. */
function sameAsSync(set: ExplanationSet, index: ExplanationIndex, queries: string[]): void {
  const reference = indexExplanations(set);
  for (const q of queries) {
    const got = JSON.stringify(index.search(q, { top: 20 }));
    if (got !== JSON.stringify(reference.search(q, { top: 20 }))) {
      throw new Error(`the sliced and the sync index differ on ${q}`);
    }
  }
}

if (inWorker) {
  // The worker way: read and index here, send the index back serialized.
  const scope = globalThis as unknown as {
    onmessage: (e: MessageEvent<{ text: string; file: string; size: number }>) => void;
    postMessage: (m: unknown) => void;
  };
  scope.onmessage = (e) => {
    const set = parseExplanations(e.data.text, { file: e.data.file, dSae: e.data.size });
    scope.postMessage(JSON.stringify(explanationMiniSearch(set)));
  };
} else {
  await main();
}
