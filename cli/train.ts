/**
 * `deno task train`: train a sparse autoencoder on activations from a file, a folder of shards
 * or any store URL, and write a SAELens folder (plus metrics.json) to a directory or store.
 *
 *   deno task train --data PATH_OR_URL --out DIR_OR_URL --architecture topk|batchtopk|jumprelu|relu
 *     --latents N [--k K] [--l1 C] [--steps S | --epochs E] [--batch B] [--lr LR] [--seed S]
 *     [--backend auto|webgpu|wasm|reference]   (--help lists every option)
 * @module
 */

import { resolve } from "node:path";
import { BACKEND_CHOICES, openBackend } from "../backends/select.ts";
import { openStore, type Store } from "../service/store/mod.ts";
import { saeLensFiles } from "../domain/train/export.ts";
import type { TrainArchitecture } from "../domain/train/objective.ts";
import { storeRows } from "../domain/train/rows.ts";
import { type TrainProgress, trainSae } from "../domain/train/trainer.ts";
import { type CommandSpec, type OptionSpec, parseOptions, UsageError } from "./args.ts";
import { CliError, runCli } from "./run.ts";

const ARCHITECTURES = ["topk", "batchtopk", "jumprelu", "relu"] as const;

/** A store and a path inside it for a local path or a store URL (`s3://b/dir/x.npy`, ...). */
export function locate(
  target: string,
  env: Record<string, string | undefined>,
): { store: Store; path: string } {
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(target) && !target.startsWith("file://");
  const local = target.startsWith("file://") ? decodeURIComponent(target.slice(7)) : target;
  if (!isUrl) {
    const abs = resolve(local);
    const file = /\.(npy|safetensors)$/.test(abs);
    const root = file ? abs.slice(0, abs.lastIndexOf("/")) || "/" : abs;
    return { store: openStore(root, env), path: file ? abs.slice(abs.lastIndexOf("/") + 1) : "" };
  }
  const url = new URL(target);
  const parts = url.pathname.split("/").filter((p) => p !== "");
  // The bucket / host is the store; the path inside it is handed to the row reader.
  const root = `${url.protocol}//${url.host}`;
  return { store: openStore(root, env), path: parts.join("/") };
}

function progressLine(p: TrainProgress): string {
  const pct = ((100 * p.step) / p.steps).toFixed(0).padStart(3);
  return `${pct}% step ${p.step}/${p.steps}  ${p.stepsPerSecond.toFixed(1)} steps/s  loss ${
    p.loss.toFixed(4)
  }  ` +
    `L0 ${p.l0.toFixed(1)}  FVU ${p.fvu.toFixed(4)}  dead ${(100 * p.deadFraction).toFixed(1)}%`;
}

/** The options of `deno task train`. */
export const TRAIN_SPEC = {
  name: "train",
  summary: "Train a sparse autoencoder on activations from a file, a folder of shards or a store " +
    "URL,\nand write a SAELens folder (plus metrics.json) to a directory or store.",
  options: {
    data: {
      type: "string",
      required: true,
      placeholder: "PATH_OR_URL",
      description: "An .npy file, a folder of .npy / .safetensors shards, or a store URL.",
    },
    out: {
      type: "string",
      required: true,
      placeholder: "DIR_OR_URL",
      description: "Output directory or store URL.",
    },
    architecture: {
      type: "string",
      default: "topk",
      choices: ARCHITECTURES,
      description: "Dictionary architecture.",
    },
    latents: { type: "integer", required: true, positive: true, description: "Dictionary size." },
    k: { type: "integer", positive: true, description: "Active latents per row (TopK kinds)." },
    l1: { type: "number", positive: true, description: "Sparsity coefficient (relu, jumprelu)." },
    steps: { type: "integer", positive: true, description: "Training steps." },
    epochs: { type: "number", positive: true, description: "Passes over the data (or --steps)." },
    batch: { type: "integer", default: 4096, positive: true, description: "Rows per step." },
    lr: { type: "number", positive: true, description: "Learning rate." },
    seed: { type: "integer", default: 0, description: "Seed of the init and the data order." },
    backend: {
      type: "string",
      default: "wasm",
      choices: BACKEND_CHOICES,
      description: "Compute backend.",
    },
  },
} as const satisfies CommandSpec<Record<string, OptionSpec>>;

/** Fail fast on a local --data path that does not exist (before any kernel work). */
async function checkLocal(flag: string, target: string): Promise<void> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target) && !target.startsWith("file://")) return;
  const path = resolve(target.replace(/^file:\/\//, ""));
  try {
    await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CliError(`${flag} ${target}: no such file or folder (${path})`);
    }
    throw e;
  }
}

async function main(): Promise<void> {
  const values = parseOptions(TRAIN_SPEC, Deno.args);
  if (values.steps === undefined && values.epochs === undefined) {
    throw new UsageError("give --steps or --epochs");
  }
  await checkLocal("--data", values.data);
  const env = Deno.env.toObject();
  const data = locate(values.data, env);
  const batch = values.batch;
  const rows = await storeRows(data.store, data.path, { seed: values.seed });
  const steps = values.steps ??
    Math.max(1, Math.round((values.epochs! * rows.rows) / batch));
  const backend = await openBackend(values.backend);
  const architecture: TrainArchitecture = values.architecture;
  const tty = Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  const started = performance.now();
  const result = await trainSae(rows, {
    backend,
    architecture,
    latents: values.latents,
    k: values.k,
    sparsityCoefficient: values.l1,
    steps,
    batch,
    lr: values.lr,
    seed: values.seed,
    progressEvery: tty ? 1 : Math.max(1, Math.floor(steps / 20)),
    onProgress: (p) => {
      if (tty) Deno.stderr.writeSync(encoder.encode(`\r${progressLine(p)}\x1b[K`));
      else console.error(progressLine(p));
    },
  });
  if (tty) Deno.stderr.writeSync(encoder.encode("\n"));
  backend.close?.();
  const files = saeLensFiles(result, {
    architecture,
    k: values.k ?? 32,
    metadata: { data: values.data, steps, batch, seconds: (performance.now() - started) / 1000 },
  });
  const out = locate(values.out, env);
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(values.out) && !values.out.startsWith("file://");
  for (const [name, bytes] of files) {
    if (isUrl) {
      if (!out.store.put) throw new CliError(`${out.store.describe} is read-only`);
      await out.store.put(out.path ? `${out.path}/${name}` : name, bytes);
    } else {
      const dir = resolve(values.out.replace(/^file:\/\//, ""));
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeFile(`${dir}/${name}`, bytes);
    }
  }
  console.error(
    `train: wrote ${values.out} (L0 ${result.final.l0.toFixed(1)}, FVU ${
      result.final.fvu.toFixed(4)
    }, dead ${(100 * result.final.deadFraction).toFixed(1)}%)`,
  );
}

if (import.meta.main) await runCli("train", main);
