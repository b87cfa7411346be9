/**
 * `deno task circuits --data HEADS.npy --labels LABELS.npy [--names L0H0,L0H1,...]
 * [--ground-truth 3,7] [--latents 200] [--l1 0.02] [--epochs 500] [--lr 0.001]
 * [--train-examples 10] [--seed 0] [--out DIR]`: circuit discovery from the command line.
 * Prints heads ranked by node score, writes DIR/circuit.json and DIR/circuit.svg (the head x
 * layer grid of node scores; layers read from names like "L9H6"). `--help` lists every option
 * and what the data must be: paired task (label 1) / corrupted (label 0) examples. Warnings
 * (unbalanced or unpaired labels, no head separating) go to stderr as `warning: ...` lines and
 * into circuit.json's `warnings`. DIR is created (or refused) before any work; options out of
 * range (the HTTP API's rules) and a diverging run end in one `error: ...` line.
 * @module
 */

import {
  circuitDocument,
  discoverCircuit,
  discoverOptionsProblem,
  type OptionNames,
} from "../domain/features/circuits.ts";
import { decodeNpy, decodeNpyLabels } from "../domain/io/npy.ts";
import { openBackend } from "../backends/select.ts";
import { BACKEND_OPTION } from "./common_options.ts";
import { type CommandSpec, type OptionSpec, parseOptions, UsageError } from "./args.ts";
import { CliError, runCli } from "./run.ts";
import { scoreGridSvg } from "./circuit_svg.ts";
import { outputFolder } from "./locations.ts";

/** The options of `deno task circuits`. */
export const CIRCUITS_SPEC = {
  name: "circuits",
  example: "--data tests/fixtures/circuits/head_outputs.npy " +
    "--labels tests/fixtures/circuits/labels.npy --names L0H0,L0H1,L0H2,L0H3,L1H0,L1H1,L1H2,L1H3 " +
    "--ground-truth 0,4,5,6,7 --out out/circuits",
  summary: "Circuit discovery: prints heads ranked by node score, writes DIR/circuit.json and\n" +
    "DIR/circuit.svg (the head x layer grid of node scores, with scale and top heads).\n\n" +
    "The data must be paired: task examples (label 1), where the model does the behaviour, and\n" +
    "corrupted examples (label 0), each a copy of a task example changed only where the\n" +
    "circuit acts (e.g. a name swapped), as many of each. --data holds every example's head\n" +
    "outputs (float .npy, [examples, heads, d_model], e.g. each head's z @ W_O averaged over\n" +
    "chosen positions); --labels one 0/1 per example, same order (any order of classes; an\n" +
    "integer, bool or float .npy).\n" +
    "Training uses the first train-examples/2 of each class. On unpaired data (unrelated\n" +
    "examples, random labels) every head collects codes from noise and the ranking means\n" +
    "nothing: the tool then prints a warning line on stderr and lists it in circuit.json.",
  options: {
    data: {
      type: "string",
      required: true,
      placeholder: "HEADS.npy",
      description: "Head outputs, 3-D .npy [examples, heads, d_model].",
    },
    labels: {
      type: "string",
      required: true,
      placeholder: "LABELS.npy",
      description: "One label per example, .npy: 1 task, 0 corrupted.",
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
    latents: {
      type: "integer",
      default: 200,
      positive: true,
      description: "SAE latents (at least 2).",
    },
    l1: { type: "number", default: 0.02, description: "SAE sparsity coefficient (>= 0)." },
    epochs: { type: "integer", default: 500, positive: true, description: "SAE training epochs." },
    lr: { type: "number", default: 0.001, positive: true, description: "Learning rate." },
    "train-examples": {
      type: "integer",
      positive: true,
      placeholder: "N",
      description: "Examples the SAE trains on, 2 up to all (default 10, or all if fewer).",
    },
    seed: { type: "integer", default: 0, description: "Seed of the SAE init." },
    out: { type: "string", default: ".", placeholder: "DIR", description: "Output folder." },
    backend: BACKEND_OPTION,
  },
} as const satisfies CommandSpec<Record<string, OptionSpec>>;

/** The options as this CLI names them, in error messages (e.g. "lower --lr"). */
const OPTION_NAMES: OptionNames = {
  latents: "--latents",
  l1: "--l1",
  epochs: "--epochs",
  lr: "--lr",
  trainExamples: "--train-examples",
};

async function main(): Promise<void> {
  const values = parseOptions(CIRCUITS_SPEC, Deno.args);
  // Where the result goes is checked before any work: a run must not end in a failed write.
  const output = await outputFolder(values.out, { env: Deno.env.toObject() });
  const t = decodeNpy(await Deno.readFile(values.data), { name: values.data });
  if (t.shape.length !== 3) {
    throw new CliError(`${values.data} must be 3-D [examples, heads, d_model]`);
  }
  const bad = t.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    const perExample = t.shape[1] * t.shape[2];
    throw new CliError(
      `${values.data}: non-finite value in example ${Math.floor(bad / perExample)}, head ${
        Math.floor((bad % perExample) / t.shape[2])
      }`,
    );
  }
  // 0/1 labels: any integer or bool dtype numpy writes, or whole-number floats.
  const labels = Array.from(
    decodeNpyLabels(await Deno.readFile(values.labels), { name: values.labels }).data,
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
  const settings = {
    latents: values.latents,
    l1: values.l1,
    epochs: values.epochs,
    lr: values.lr,
    trainExamples: values["train-examples"],
    seed: values.seed,
    optionNames: OPTION_NAMES,
  };
  // The rules the HTTP API applies too (e.g. --train-examples at most the examples given).
  const problem = discoverOptionsProblem({ examples: t.shape[0] }, settings);
  if (problem) throw new UsageError(problem);
  const backend = await openBackend(values.backend);
  try {
    // A diverging run fails here with one error line naming --lr; nothing is written.
    const result = await discoverCircuit(backend, {
      examples: t.shape[0],
      heads,
      dModel: t.shape[2],
      data: t.data,
    }, { ...settings, labels, groundTruth: truth });
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
    for (const w of result.warnings) console.error(`warning: ${w}`);
    const json = JSON.stringify(circuitDocument(result, { names }), null, 2) + "\n";
    const byHead = new Array(heads).fill(0);
    const codes = new Array(heads).fill(0);
    for (const h of result.heads) {
      [byHead[h.head], codes[h.head]] = [h.nodeScore, h.positiveOnlyCodes];
    }
    const auc = result.rocAuc ? `; node ROC AUC ${result.rocAuc.node.toFixed(3)}` : "";
    const svg = scoreGridSvg(byHead, names, {
      subtitle: `${t.shape[0]} examples (${labels.filter((l) => l === 1).length} task), ` +
        `${heads} heads, d_model ${t.shape[2]}; ${values.latents} latents, ` +
        `${values.epochs} epochs, seed ${values.seed}${auc}`,
      codes,
      warnings: result.warnings,
    });
    const text = new TextEncoder();
    await output.write(
      new Map([["circuit.json", text.encode(json)], ["circuit.svg", text.encode(svg)]]),
    );
  } finally {
    backend.close?.();
  }
}

if (import.meta.main) await runCli("circuits", main);
