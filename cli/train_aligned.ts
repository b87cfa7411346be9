/**
 * `deno task train-aligned --stream NAME=PATH ... --out DIR_OR_URL --latents N --k K
 * [--topk global|local] [--cross 1.0] [--auxk 64] [--steps S] [--batch 256] [--lr 1e-4]
 * [--seed 0] [--dead-after 1000] [--backend wasm]`: train an aligned (SPARC) dictionary on
 * paired rows (row r of every stream is the same item; .npy files, local or in a store) and write
 * its folder. `--help` lists every option.
 * @module
 */

import { alignedFiles } from "../domain/features/aligned.ts";
import { readRange } from "../domain/io/byte_source.ts";
import { type Matrix, matrix } from "../domain/sae/matrix.ts";
import { decodeNpy } from "../domain/io/npy.ts";
import { seededRandom } from "../domain/random.ts";
import { trainAligned } from "../domain/train/aligned_trainer.ts";
import { BACKEND_CHOICES, openBackend } from "../backends/select.ts";
import { type CommandSpec, type OptionSpec, parseOptions, UsageError } from "./args.ts";
import { CliError, runCli } from "./run.ts";
import { locate } from "./train.ts";

/** The options of `deno task train-aligned`. */
export const TRAIN_ALIGNED_SPEC = {
  name: "train-aligned",
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
    steps: { type: "integer", default: 1000, positive: true, description: "Training steps." },
    batch: { type: "integer", default: 256, positive: true, description: "Rows per step." },
    lr: { type: "number", default: 0.0001, positive: true, description: "Learning rate." },
    seed: { type: "integer", default: 0, description: "Seed of the init and the batches." },
    "dead-after": {
      type: "integer",
      default: 1000,
      positive: true,
      description: "Steps without firing before a latent counts as dead.",
    },
    backend: {
      type: "string",
      default: "wasm",
      choices: BACKEND_CHOICES,
      description: "Compute backend.",
    },
  },
} as const satisfies CommandSpec<Record<string, OptionSpec>>;

async function main(): Promise<void> {
  const values = parseOptions(TRAIN_ALIGNED_SPEC, Deno.args);
  const env = Deno.env.toObject();
  const data = new Map<string, Matrix>();
  for (const spec of values.stream) {
    const at = spec.indexOf("=");
    if (at < 1) throw new UsageError(`--stream wants NAME=PATH, not ${JSON.stringify(spec)}`);
    const { store, path } = locate(spec.slice(at + 1), env);
    const source = await store.open(path);
    const t = decodeNpy(await readRange(source, 0, source.size));
    if (t.shape.length !== 2) throw new CliError(`${spec}: rows must be 2-D`);
    data.set(spec.slice(0, at), matrix(t.shape[0], t.shape[1], t.data));
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
          const out = matrix(n, m.cols);
          pick.forEach((r, i) =>
            out.data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols)
          );
          return [name, out];
        })),
      );
    },
  };
  const backend = await openBackend(values.backend);
  try {
    const steps = values.steps;
    const { dictionary, loss } = await trainAligned(source, {
      backend,
      latents: values.latents,
      k: values.k,
      topk: values.topk,
      cross: values.cross,
      auxk: values.auxk,
      steps,
      batch: values.batch,
      lr: values.lr,
      seed: values.seed,
      deadAfterSteps: values["dead-after"],
      onProgress: (p) => {
        if (p.step % Math.max(1, Math.floor(steps / 20)) === 0) {
          console.error(
            `step ${p.step}/${steps} loss ${p.loss.toFixed(4)} dead ${
              (100 * p.deadFraction).toFixed(1)
            }%`,
          );
        }
      },
    });
    const files = alignedFiles(dictionary, {
      description: `trained by saeserve (${values.topk} TopK, cross ${values.cross})`,
    });
    const out = values.out;
    const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(out) && !out.startsWith("file://");
    const target = locate(out, env);
    for (const [name, bytes] of files) {
      if (isUrl) {
        if (!target.store.put) throw new CliError(`${target.store.describe} is read-only`);
        await target.store.put(target.path ? `${target.path}/${name}` : name, bytes);
      } else {
        const dir = out.replace(/^file:\/\//, "");
        await Deno.mkdir(dir, { recursive: true });
        await Deno.writeFile(`${dir}/${name}`, bytes);
      }
    }
    console.error(`train-aligned: wrote ${out} (final loss ${loss.toFixed(4)})`);
  } finally {
    backend.close?.();
  }
}

if (import.meta.main) await runCli("train-aligned", main);
