/**
 * `deno task train-aligned --stream NAME=PATH ... --out DIR_OR_URL --latents N --k K`: train an
 * aligned (SPARC) dictionary on paired rows (row r of every stream is the same item; .npy
 * files, local or in a store) and write its folder with metrics.json. The learning rate follows
 * sparsify's rule (2e-4 / sqrt(latents / 16384)), the run is one pass over the data but at
 * least 5000 steps, and a plateau of the loss starts the final decay early; the self and
 * translation FVU of every stream are printed and saved. `--help` lists every option.
 * @module
 */

import { type AlignedDictionary, alignedFiles, STREAM_NAME } from "../domain/sae/aligned.ts";
import { SaeError } from "../domain/errors.ts";
import { readRange } from "../domain/io/byte_source.ts";
import { type Matrix, matrix } from "../domain/sae/matrix.ts";
import { decodeNpy } from "../domain/io/npy.ts";
import { seededRandom } from "../domain/random.ts";
import { type AlignedProgress, trainAligned } from "../domain/train/aligned_trainer.ts";
import { type AlignedFvu, alignedFvu } from "../domain/train/evaluate.ts";
import { defaultLr, runSteps } from "../domain/train/schedule.ts";
import { trainingShortfall } from "../domain/train/params.ts";
import { openBackend } from "../backends/select.ts";
import { BACKEND_OPTION, LENGTH_OPTIONS, SCHEDULE_OPTIONS } from "./common_options.ts";
import { type CommandSpec, type OptionSpec, parseOptions, UsageError } from "./args.ts";
import { CliError, runCli } from "./run.ts";
import { locate, outputFolder } from "./locations.ts";

/** The options of `deno task train-aligned`. */
export const TRAIN_ALIGNED_SPEC = {
  name: "train-aligned",
  example:
    "--stream dino=acts/dino.npy --stream clip=acts/clip.npy --out my-sparc/ --latents 4096 --k 32",
  summary: "Train an aligned (SPARC) dictionary on paired rows (row r of every stream is the " +
    "same item)\nand write its folder.",
  options: {
    stream: {
      type: "string",
      multiple: true,
      required: true,
      placeholder: "NAME=PATH",
      description: "One stream's rows: a 2-D .npy file, local or in a store.",
    },
    out: {
      type: "string",
      required: true,
      placeholder: "DIR_OR_URL",
      description: "Output directory or store URL.",
    },
    latents: { type: "integer", required: true, positive: true, description: "Shared latents." },
    k: { type: "integer", required: true, positive: true, description: "Active latents per row." },
    topk: {
      type: "string",
      default: "global",
      choices: ["global", "local"],
      description: "TopK over all streams together, or per stream.",
    },
    cross: {
      type: "number",
      default: 1.0,
      description: "Weight of the cross-reconstruction loss.",
    },
    auxk: {
      type: "integer",
      default: 64,
      description: "Latents of the dead-latent auxiliary loss.",
    },
    ...LENGTH_OPTIONS,
    batch: { type: "integer", default: 256, positive: true, description: "Rows per step." },
    ...SCHEDULE_OPTIONS,
    seed: { type: "integer", default: 0, description: "Seed of the init and the batches." },
    "dead-after": {
      type: "integer",
      default: 1000,
      positive: true,
      description: "Steps without firing before a latent counts as dead.",
    },
    backend: BACKEND_OPTION,
  },
} as const satisfies CommandSpec<Record<string, OptionSpec>>;

/** What a train-aligned run reports (and writes to metrics.json). */
export interface AlignedRunReport {
  readonly dictionary: AlignedDictionary;
  readonly lr: number;
  readonly batch: number;
  readonly plannedSteps: number;
  readonly steps: number;
  readonly plateauAt: number | null;
  readonly loss: number;
  /** On up to 1024 rows of the data. */
  readonly fvu: AlignedFvu;
}

/** Rows [0, n) of every stream. */
function head(data: Map<string, Matrix>, n: number): Map<string, Matrix> {
  return new Map(
    [...data].map(([name, m]) => [name, matrix([n, m.cols], m.data.slice(0, n * m.cols))]),
  );
}

/** The FVU lines: one per stream, its self FVU and its FVU translated from each other stream. */
export function fvuLines(fvu: AlignedFvu): string[] {
  return Object.entries(fvu.self).map(([to, self]) => {
    const from = Object.entries(fvu.cross).filter(([pair]) => pair.endsWith(`->${to}`))
      .map(([pair, v]) => `, from ${pair.slice(0, -to.length - 2)} ${v.toFixed(4)}`);
    return `  ${to}: FVU self ${self.toFixed(4)}${from.join("")}`;
  });
}

/**
 * `deno task train-aligned` on command-line `args`: trains, writes the folder and metrics.json,
 * logs to `options.log` (default stderr) and returns the report.
 */
export async function trainAlignedCommand(
  args: readonly string[],
  options?: { env?: Record<string, string | undefined>; log?: (line: string) => void },
): Promise<AlignedRunReport> {
  const values = parseOptions(TRAIN_ALIGNED_SPEC, args);
  if (values.steps !== undefined && values.epochs !== undefined) {
    throw new UsageError("give --steps or --epochs, not both");
  }
  if (values.k > values.latents) {
    throw new UsageError(`--k ${values.k} is more than --latents ${values.latents}`);
  }
  const log = options?.log ?? ((line: string) => console.error(line));
  const env = options?.env ?? Deno.env.toObject();
  const data = new Map<string, Matrix>();
  for (const spec of values.stream) {
    const at = spec.indexOf("=");
    if (at < 1) throw new UsageError(`--stream wants NAME=PATH, not ${JSON.stringify(spec)}`);
    const name = spec.slice(0, at);
    if (!STREAM_NAME.test(name)) {
      throw new UsageError(
        `--stream ${JSON.stringify(name)}: a name is 1 to 64 letters, digits, _ . or -`,
      );
    }
    if (data.has(name)) throw new UsageError(`--stream ${name} is given twice`);
    const where = spec.slice(at + 1);
    const t = await (async () => {
      const { store, path } = locate(where, env);
      const source = await store.open(path);
      return decodeNpy(await readRange(source, { offset: 0, length: source.size }));
    })().catch((e) => {
      if (e instanceof SaeError && e.kind === "unavailable") throw e;
      throw new CliError(`--stream ${name}: ${where} is not a readable .npy file (${e.message})`);
    });
    if (t.shape.length !== 2) throw new CliError(`${spec}: rows must be 2-D`);
    const bad = t.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new CliError(
        `--stream ${name}: non-finite value in row ${Math.floor(bad / t.shape[1])}`,
      );
    }
    data.set(name, matrix([t.shape[0], t.shape[1]], t.data));
  }
  const rows = [...data.values()][0].rows;
  if ([...data.values()].some((m) => m.rows !== rows)) {
    throw new CliError("every stream needs the same number of rows (paired items)");
  }
  const rand = seededRandom(values.seed);
  const source = {
    streams: [...data].map(([name, m]) => ({ name, d: m.cols })),
    next(n: number): Promise<Map<string, Matrix>> {
      const pick = Array.from({ length: n }, () => Math.floor(rand() * rows));
      return Promise.resolve(
        new Map([...data].map(([name, m]) => {
          const out = matrix([n, m.cols]);
          pick.forEach((r, i) =>
            out.data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols)
          );
          return [name, out];
        })),
      );
    },
  };
  const batch = values.batch;
  const widths = [...data.values()].reduce((n, m) => n + m.cols, 0);
  const shortfall = trainingShortfall(
    { dIn: widths, latents: values.latents, batch },
    { totalBytes: Deno.systemMemoryInfo().total },
  );
  if (shortfall) {
    throw new UsageError(
      `--latents ${values.latents} over streams of total width ${widths} ${shortfall}`,
    );
  }
  // Where the result goes is checked before any training: a run must not end in a failed write.
  const output = await outputFolder(values.out, { env });
  const planned = runSteps(rows, { batch, steps: values.steps, epochs: values.epochs });
  const lr = values.lr ?? defaultLr(values.latents);
  const every = Math.max(1, Math.floor(planned / 20));
  const curve: AlignedProgress[] = [];
  const backend = await openBackend(values.backend);
  try {
    const result = await trainAligned(source, {
      backend,
      latents: values.latents,
      k: values.k,
      topk: values.topk,
      cross: values.cross,
      auxk: values.auxk,
      steps: planned,
      batch,
      lr,
      warmupSteps: Math.floor(planned * 0.05),
      decaySteps: Math.floor(planned * 0.2),
      plateau: values["early-stop"] ? {} : null,
      seed: values.seed,
      deadAfterSteps: values["dead-after"],
      onProgress: (p) => {
        if (p.step % every === 0 || p.step === p.steps) {
          curve.push(p);
          log(
            `step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} ` +
              `dead ${(100 * p.deadFraction).toFixed(1)}%`,
          );
        }
      },
    });
    if (!Number.isFinite(result.loss)) {
      throw new CliError(
        `training diverged (final loss ${result.loss}); nothing was written to ${values.out}: ` +
          `lower --lr (it was ${lr.toExponential(2)})`,
      );
    }
    const fvu = alignedFvu(result.dictionary, head(data, Math.min(rows, 1024)));
    const report: AlignedRunReport = {
      dictionary: result.dictionary,
      lr,
      batch,
      plannedSteps: planned,
      steps: result.steps,
      plateauAt: result.plateauAt,
      loss: result.loss,
      fvu,
    };
    const files = alignedFiles(result.dictionary, {
      description: `trained by saeserve (${values.topk} TopK, cross ${values.cross})`,
    });
    files.set("metrics.json", metricsJson(report, curve));
    const out = values.out;
    await output.write(files);
    const stop = result.plateauAt === null ? "" : `, plateau at ${result.plateauAt}`;
    log(
      `train-aligned: wrote ${out} (steps ${result.steps}/${planned}${stop}, lr ${
        lr.toExponential(2)
      }, final loss ${result.loss.toFixed(4)})`,
    );
    log(`final FVU on ${Math.min(rows, 1024)} rows:`);
    for (const line of fvuLines(fvu)) log(line);
    return report;
  } finally {
    backend.close?.();
  }
}

function metricsJson(report: AlignedRunReport, curve: AlignedProgress[]): Uint8Array<ArrayBuffer> {
  const metrics = {
    kind: "aligned",
    latents: report.dictionary.latents,
    k: report.dictionary.k,
    lr: report.lr,
    batch: report.batch,
    planned_steps: report.plannedSteps,
    steps: report.steps,
    plateau_at: report.plateauAt,
    final: { loss: report.loss, fvu: report.fvu },
    curve: curve.map((p) => ({
      step: p.step,
      loss: p.loss,
      lr: p.lr,
      dead_fraction: p.deadFraction,
    })),
  };
  return new TextEncoder().encode(JSON.stringify(metrics, null, 2) + "\n");
}

if (import.meta.main) {
  await runCli("train-aligned", async () => {
    await trainAlignedCommand(Deno.args);
  });
}
