/**
 * `deno task circuits --data HEADS.npy --labels LABELS.npy [--names L0H0,L0H1,...]
 * [--ground-truth 3,7] [--latents 200] [--l1 0.02] [--epochs 500] [--lr 0.001]
 * [--train-examples 10] [--seed 0] [--out DIR]`: circuit discovery from the command line.
 * Prints heads ranked by node score, writes DIR/circuit.json and DIR/circuit.svg (the head x
 * layer grid of node scores; layers read from names like "L9H6"). `--help` lists every option.
 * @module
 */

import { discoverCircuit } from "../domain/features/circuits.ts";
import { decodeNpy } from "../domain/io/npy.ts";
import { circuitJson } from "../routes/circuits.ts";
import { BACKEND_CHOICES, openBackend } from "../backends/select.ts";
import { type CommandSpec, type OptionSpec, parseOptions, UsageError } from "./args.ts";
import { CliError, runCli } from "./run.ts";

/** The options of `deno task circuits`. */
export const CIRCUITS_SPEC = {
  name: "circuits",
  summary: "Circuit discovery: prints heads ranked by node score, writes DIR/circuit.json and\n" +
    "DIR/circuit.svg (the head x layer grid of node scores).",
  options: {
    data: {
      type: "string",
      required: true,
      placeholder: "HEADS.npy",
      description: "Head outputs, 3-D [examples, heads, d_model].",
    },
    labels: {
      type: "string",
      required: true,
      placeholder: "LABELS.npy",
      description: "One 0/1 label per example.",
    },
    names: {
      type: "list",
      placeholder: "L0H0,L0H1,...",
      description: "Head names, one per head (default L0H0, L0H1, ...).",
    },
    "ground-truth": {
      type: "list",
      placeholder: "H,H",
      description: "Indices of the true circuit's heads (adds ROC AUC).",
    },
    latents: { type: "integer", default: 200, positive: true, description: "SAE latents." },
    l1: { type: "number", default: 0.02, description: "SAE sparsity coefficient." },
    epochs: { type: "integer", default: 500, positive: true, description: "SAE training epochs." },
    lr: { type: "number", default: 0.001, positive: true, description: "Learning rate." },
    "train-examples": {
      type: "integer",
      default: 10,
      positive: true,
      description: "Examples the SAE is trained on.",
    },
    seed: { type: "integer", default: 0, description: "Seed of the SAE init." },
    out: { type: "string", default: ".", placeholder: "DIR", description: "Output folder." },
    backend: {
      type: "string",
      default: "wasm",
      choices: BACKEND_CHOICES,
      description: "Compute backend.",
    },
  },
} as const satisfies CommandSpec<Record<string, OptionSpec>>;

/** An SVG grid of scores: rows are layers, columns heads within a layer (from "LxHy" names). */
export function scoreGridSvg(scores: number[], names: readonly string[]): string {
  const cells = names.map((n, i) => {
    const m = /L(\d+)H(\d+)/.exec(n);
    return { layer: m ? Number(m[1]) : 0, head: m ? Number(m[2]) : i, score: scores[i], name: n };
  });
  const layers = Math.max(...cells.map((c) => c.layer)) + 1;
  const heads = Math.max(...cells.map((c) => c.head)) + 1;
  const max = Math.max(...scores, 1e-12);
  const size = 28;
  const left = 48;
  const top = 24;
  const rects = cells.map((c) => {
    const v = Math.round(255 * (1 - c.score / max));
    return `<rect x="${left + c.head * size}" y="${top + c.layer * size}" width="${
      size - 2
    }" height="${size - 2}" fill="rgb(255,${v},${v})"><title>${c.name}: ${
      c.score.toFixed(4)
    }</title></rect>`;
  });
  const labels = [
    ...Array.from(
      { length: layers },
      (_, l) => `<text x="4" y="${top + l * size + 18}" font-size="12">L${l}</text>`,
    ),
    ...Array.from(
      { length: heads },
      (_, h) => `<text x="${left + h * size + 6}" y="16" font-size="12">H${h}</text>`,
    ),
  ];
  const width = left + heads * size + 8;
  const height = top + layers * size + 8;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">${
    labels.join("")
  }${rects.join("")}</svg>\n`;
}

async function main(): Promise<void> {
  const values = parseOptions(CIRCUITS_SPEC, Deno.args);
  const t = decodeNpy(await Deno.readFile(values.data));
  if (t.shape.length !== 3) {
    throw new CliError(`${values.data} must be 3-D [examples, heads, d_model]`);
  }
  const labels = Array.from(
    decodeNpy(await Deno.readFile(values.labels)).data,
    (v) => (v > 0.5 ? 1 : 0),
  );
  if (labels.length !== t.shape[0]) {
    throw new CliError(`${labels.length} labels for ${t.shape[0]} examples`);
  }
  const heads = t.shape[1];
  const names = values.names ?? Array.from({ length: heads }, (_, h) => `L0H${h}`);
  if (names.length !== heads) throw new UsageError(`${names.length} --names for ${heads} heads`);
  const truth = values["ground-truth"]?.map(Number);
  if (truth?.some((h) => !Number.isInteger(h) || h < 0 || h >= heads)) {
    throw new UsageError(`--ground-truth must list head indices in 0..${heads - 1}`);
  }
  const backend = await openBackend(values.backend);
  try {
    const result = await discoverCircuit(backend, {
      examples: t.shape[0],
      heads,
      dModel: t.shape[2],
      data: t.data,
    }, {
      labels,
      groundTruth: truth,
      latents: values.latents,
      l1: values.l1,
      epochs: values.epochs,
      lr: values.lr,
      trainExamples: values["train-examples"],
      seed: values.seed,
    });
    console.log("rank  head      node score  edge score  positive-only codes");
    result.heads.slice(0, 20).forEach((h, i) =>
      console.log(
        `${String(i + 1).padStart(4)}  ${names[h.head].padEnd(8)}  ${
          h.nodeScore.toFixed(4).padStart(10)
        }  ${h.edgeScore.toFixed(4).padStart(10)}  ${h.positiveOnlyCodes}`,
      )
    );
    if (result.rocAuc) {
      console.log(
        `ROC AUC: node ${result.rocAuc.node.toFixed(3)}, edge ${result.rocAuc.edge.toFixed(3)}`,
      );
    }
    console.log(`timings (ms): ${JSON.stringify(result.timingsMs)}`);
    await Deno.mkdir(values.out, { recursive: true });
    await Deno.writeTextFile(
      `${values.out}/circuit.json`,
      JSON.stringify(circuitJson(result, names), null, 2) + "\n",
    );
    const byHead = new Array(heads).fill(0);
    for (const h of result.heads) byHead[h.head] = h.nodeScore;
    await Deno.writeTextFile(`${values.out}/circuit.svg`, scoreGridSvg(byHead, names));
  } finally {
    backend.close?.();
  }
}

if (import.meta.main) await runCli("circuits", main);
