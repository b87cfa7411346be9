/**
 * `deno task circuits --data HEADS.npy --labels LABELS.npy [--names L0H0,L0H1,...]
 * [--ground-truth 3,7] [--latents 200] [--l1 0.02] [--epochs 500] [--lr 0.001]
 * [--train-examples 10] [--seed 0] [--out DIR]`: circuit discovery from the command line.
 * Prints heads ranked by node score, writes DIR/circuit.json and DIR/circuit.svg (the head x
 * layer grid of node scores; layers read from names like "L9H6").
 * @module
 */

import { parseArgs } from "node:util";
import { discoverCircuit } from "../domain/features/circuits.ts";
import { decodeNpy } from "../domain/io/npy.ts";
import { circuitJson } from "../routes/circuits.ts";
import { wasmBackend } from "../backends/wasm/mod.ts";

function fail(message: string): never {
  console.error(`circuits: ${message}`);
  Deno.exit(2);
}

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
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      data: { type: "string" },
      labels: { type: "string" },
      names: { type: "string" },
      "ground-truth": { type: "string" },
      latents: { type: "string", default: "200" },
      l1: { type: "string", default: "0.02" },
      epochs: { type: "string", default: "500" },
      lr: { type: "string", default: "0.001" },
      "train-examples": { type: "string", default: "10" },
      seed: { type: "string", default: "0" },
      out: { type: "string", default: "." },
    },
    strict: true,
  });
  if (!values.data || !values.labels) fail("--data and --labels are required");
  const t = decodeNpy(await Deno.readFile(values.data));
  if (t.shape.length !== 3) fail(`${values.data} must be 3-D [examples, heads, d_model]`);
  const labels = Array.from(
    decodeNpy(await Deno.readFile(values.labels)).data,
    (v) => (v > 0.5 ? 1 : 0),
  );
  if (labels.length !== t.shape[0]) fail(`${labels.length} labels for ${t.shape[0]} examples`);
  const heads = t.shape[1];
  const names = values.names
    ? values.names.split(",")
    : Array.from({ length: heads }, (_, h) => `L0H${h}`);
  if (names.length !== heads) fail(`${names.length} names for ${heads} heads`);
  const truth = values["ground-truth"] ? values["ground-truth"].split(",").map(Number) : undefined;
  const backend = await wasmBackend();
  try {
    const result = await discoverCircuit(backend, {
      examples: t.shape[0],
      heads,
      dModel: t.shape[2],
      data: t.data,
    }, {
      labels,
      groundTruth: truth,
      latents: Number(values.latents),
      l1: Number(values.l1),
      epochs: Number(values.epochs),
      lr: Number(values.lr),
      trainExamples: Number(values["train-examples"]),
      seed: Number(values.seed),
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
    await Deno.mkdir(values.out!, { recursive: true });
    await Deno.writeTextFile(
      `${values.out}/circuit.json`,
      JSON.stringify(circuitJson(result, names), null, 2) + "\n",
    );
    const byHead = new Array(heads).fill(0);
    for (const h of result.heads) byHead[h.head] = h.nodeScore;
    await Deno.writeTextFile(`${values.out}/circuit.svg`, scoreGridSvg(byHead, names));
  } finally {
    backend.close();
  }
}

if (import.meta.main) await main();
