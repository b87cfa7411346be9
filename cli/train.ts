/**
 * `deno task train`: train a sparse autoencoder on activations from a file, a folder of shards
 * or any store URL, and write a SAELens folder (plus metrics.json) to a directory or store.
 *
 *   deno task train --data PATH_OR_URL --out DIR_OR_URL --latents N [--k K]
 *     [--architecture topk|batchtopk|jumprelu|relu] [--l1 C] [--steps S | --epochs E]
 *     [--batch B] [--lr LR] [--early-stop=false] [--seed S] [--backend auto|webgpu|wasm|reference]
 *
 * Defaults that converge: the learning rate follows sparsify's rule 2e-4 / sqrt(latents /
 * 16384); the batch is 4096 rows but at most 1/32 of the data; the run is one pass over the data
 * but at least 5000 steps, and a plateau of the loss starts the final decay early. The final
 * FVU is printed and saved in metrics.json. `--help` lists every option.
 * @module
 */

import { resolve } from "node:path";
import { openBackend } from "../backends/select.ts";
import { BACKEND_OPTION, LENGTH_OPTIONS, SCHEDULE_OPTIONS } from "./common_options.ts";
import { saeLensFiles } from "../domain/train/export.ts";
import type { TrainArchitecture } from "../domain/train/objective.ts";
import { storeRows } from "../domain/train/rows.ts";
import { type TrainProgress, type TrainResult, trainSae } from "../domain/train/trainer.ts";
import { defaultBatch, defaultLr, runSteps } from "../domain/train/schedule.ts";
import { trainingShortfall } from "../domain/train/params.ts";
import { type CommandSpec, type OptionSpec, parseOptions, UsageError } from "./args.ts";
import { CliError, runCli } from "./run.ts";
import { dictionaryFilesIn, locate, outputFolder, refreshHashes } from "./locations.ts";
import { SaeError } from "../domain/errors.ts";

const ARCHITECTURES = ["topk", "batchtopk", "jumprelu", "relu"] as const;

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
  example: "--data acts/ --out my-sae/ --latents 16384 --k 32",
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
    k: {
      type: "integer",
      positive: true,
      description: "Active latents per row (TopK kinds; default 32).",
    },
    l1: {
      type: "number",
      positive: true,
      description: "Sparsity coefficient (default: relu 5, jumprelu 0.001).",
    },
    ...LENGTH_OPTIONS,
    batch: {
      type: "integer",
      positive: true,
      description:
        "Rows per step (default: 4096, at most 1/32 of the rows, at least 64, never above the rows).",
    },
    ...SCHEDULE_OPTIONS,
    seed: { type: "integer", default: 0, description: "Seed of the init and the data order." },
    backend: BACKEND_OPTION,
    overwrite: {
      type: "boolean",
      default: false,
      description: "Replace the dictionary --out already holds (refused otherwise).",
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

/** What a train run reports (and writes to metrics.json). */
export interface TrainRunReport {
  readonly result: TrainResult;
  readonly lr: number;
  readonly batch: number;
  readonly plannedSteps: number;
}

/**
 * `deno task train` on command-line `args`: trains, writes the SAELens folder with
 * metrics.json, logs to `options.log` (default stderr) and returns the report.
 */
export async function trainCommand(
  args: readonly string[],
  options?: { env?: Record<string, string | undefined>; log?: (line: string) => void },
): Promise<TrainRunReport> {
  const values = parseOptions(TRAIN_SPEC, args);
  if (values.steps !== undefined && values.epochs !== undefined) {
    throw new UsageError("give --steps or --epochs, not both");
  }
  const kinds = ["topk", "batchtopk"];
  if (!kinds.includes(values.architecture) && values.k !== undefined) {
    throw new UsageError(
      `--k applies to topk and batchtopk; ${values.architecture} is sparse through --l1`,
    );
  }
  if (kinds.includes(values.architecture) && (values.k ?? 32) > values.latents) {
    throw new UsageError(
      `--k ${values.k ?? 32}${values.k === undefined ? " (the default)" : ""} is more than ` +
        `--latents ${values.latents}: a ${values.architecture} dictionary keeps at most its latents`,
    );
  }
  await checkLocal("--data", values.data);
  const held = await dictionaryFilesIn(values.out);
  if (held.length && !values.overwrite) {
    throw new UsageError(
      `--out ${values.out} already holds a dictionary (${held.join(", ")}): pass --overwrite ` +
        "to replace it",
    );
  }
  const env = options?.env ?? Deno.env.toObject();
  const log = options?.log ?? ((line: string) => console.error(line));
  const data = locate(values.data, env);
  // Where the result goes is checked before any training: a run must not end in a failed write.
  const output = await outputFolder(values.out, { env });
  const rows = await storeRows(data.store, data.path, { seed: values.seed }).catch((e) => {
    if (!(e instanceof SaeError && e.kind === "not_found" && /rows under/.test(e.message))) throw e;
    const http = /^https?:\/\//.test(values.data);
    throw new CliError(
      `--data ${values.data}: no .npy or .safetensors rows there` +
        (http ? " (an http(s) folder lists its files through an index.json at its root)" : ""),
    );
  });
  if (rows.rows < 2) {
    throw new UsageError(
      `--data ${values.data} holds ${rows.rows} row${
        rows.rows === 1 ? "" : "s"
      }; training needs at least 2`,
    );
  }
  if (values.batch !== undefined && values.batch > rows.rows) {
    throw new UsageError(
      `--batch ${values.batch} is more than the ${rows.rows} rows in --data ${values.data}; ` +
        `a batch would repeat rows (use at most ${rows.rows})`,
    );
  }
  const batch = values.batch ?? defaultBatch(rows.rows, 4096);
  log(`train: ${rows.rows} rows of d_in ${rows.dIn} from ${values.data}`);
  const shortfall = trainingShortfall(
    { dIn: rows.dIn, latents: values.latents, batch },
    { totalBytes: Deno.systemMemoryInfo().total },
  );
  if (shortfall) {
    throw new UsageError(
      `--latents ${values.latents} at d_in ${rows.dIn} and batch ${batch} ${shortfall}`,
    );
  }
  const planned = runSteps(rows.rows, { batch, steps: values.steps, epochs: values.epochs });
  const lr = values.lr ?? defaultLr(values.latents);
  const backend = await openBackend(values.backend);
  const architecture: TrainArchitecture = values.architecture;
  const tty = !options?.log && Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  const started = performance.now();
  let result: TrainResult;
  try {
    result = await trainSae(rows, {
      backend,
      architecture,
      latents: values.latents,
      k: values.k,
      sparsityCoefficient: values.l1,
      steps: planned,
      batch,
      lr,
      plateau: values["early-stop"] ? {} : null,
      seed: values.seed,
      progressEvery: tty ? 1 : Math.max(1, Math.floor(planned / 20)),
      onProgress: (p) => {
        if (tty) Deno.stderr.writeSync(encoder.encode(`\r${progressLine(p)}\x1b[K`));
        else log(progressLine(p));
      },
    });
  } finally {
    if (tty) Deno.stderr.writeSync(encoder.encode("\n"));
    backend.close?.();
  }
  if (!(result.final.fvu <= DIVERGED_FVU) || !finiteParams(result)) {
    // Non-finite weights are refused by the service, and an FVU far above 1 (predicting the
    // mean scores 1) reconstructs nothing: nothing is written.
    throw new CliError(
      `training diverged (final FVU ${result.final.fvu}); nothing was written to ${values.out}: ` +
        `lower --lr (it was ${lr.toExponential(2)})`,
    );
  }
  const files = saeLensFiles(result, {
    architecture,
    k: values.k ?? 32,
    metadata: {
      data: values.data,
      lr,
      batch,
      planned_steps: planned,
      steps: result.steps,
      plateau_at: result.plateauAt,
      seconds: (performance.now() - started) / 1000,
    },
  });
  await output.write(files);
  if (held.length) {
    const rehashed = await refreshHashes(values.out, files);
    if (rehashed.length) log(`train: saeserve.json's sha256 updated for ${rehashed.join(", ")}`);
    log(
      "train: a service that has this dictionary loaded keeps the old weights until it restarts " +
        "(or evicts it); explanations beside it describe the old latents",
    );
  }
  const stop = result.plateauAt === null ? "" : `, plateau at ${result.plateauAt}`;
  log(
    `train: wrote ${values.out} (steps ${result.steps}/${planned}${stop}, batch ${batch}, lr ${
      lr.toExponential(2)
    })`,
  );
  log(
    `final FVU ${result.final.fvu.toFixed(4)}, L0 ${result.final.l0.toFixed(1)}, dead ${
      (100 * result.final.deadFraction).toFixed(1)
    }% (on the last training batch of ${batch} rows, not held-out data)`,
  );
  return { result, lr, batch, plannedSteps: planned };
}

/** A final FVU above this means the run diverged. */
const DIVERGED_FVU = 10;

/** Whether every trained weight is finite (a diverged run's are not). */
function finiteParams(result: TrainResult): boolean {
  const p = result.params;
  for (const a of [p.wEnc, p.bEnc, p.wDec, p.bDec, p.logThreshold, result.threshold ?? []]) {
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  }
  return true;
}

if (import.meta.main) {
  await runCli("train", async () => {
    await trainCommand(Deno.args);
  });
}
