/**
 * `deno task train`: train a sparse autoencoder on activations from a file, a folder of shards
 * or any store URL, and write a SAELens folder (plus metrics.json) to a directory or store.
 *
 *   deno task train --data PATH_OR_URL --out DIR_OR_URL --architecture topk|batchtopk|jumprelu|relu
 *     --latents N [--k K] [--l1 C] [--steps S | --epochs E] [--batch B] [--lr LR] [--seed S]
 *     [--backend wasm|webgpu|reference]
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import type { Backend } from "../backends/backend.ts";
import { referenceBackend } from "../backends/reference/mod.ts";
import { openStore, type Store } from "../service/store/mod.ts";
import { saeLensFiles } from "../domain/train/export.ts";
import type { TrainArchitecture } from "../domain/train/objective.ts";
import { storeRows } from "../domain/train/rows.ts";
import { type TrainProgress, trainSae } from "../domain/train/trainer.ts";
import { webgpuBackend } from "../backends/gpu/mod.ts";
import { wasmBackend } from "../backends/wasm/mod.ts";

const ARCHITECTURES = ["topk", "batchtopk", "jumprelu", "relu"];

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

function fail(message: string): never {
  console.error(`train: ${message}`);
  Deno.exit(2);
}

function progressLine(p: TrainProgress): string {
  const pct = ((100 * p.step) / p.steps).toFixed(0).padStart(3);
  return `${pct}% step ${p.step}/${p.steps}  ${p.stepsPerSecond.toFixed(1)} steps/s  loss ${
    p.loss.toFixed(4)
  }  ` +
    `L0 ${p.l0.toFixed(1)}  FVU ${p.fvu.toFixed(4)}  dead ${(100 * p.deadFraction).toFixed(1)}%`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      data: { type: "string" },
      out: { type: "string" },
      architecture: { type: "string", default: "topk" },
      latents: { type: "string" },
      k: { type: "string" },
      l1: { type: "string" },
      steps: { type: "string" },
      epochs: { type: "string" },
      batch: { type: "string", default: "4096" },
      lr: { type: "string" },
      seed: { type: "string", default: "0" },
      backend: { type: "string", default: "wasm" },
    },
    strict: true,
  });
  if (!values.data || !values.out || !values.latents) {
    fail("--data, --out and --latents are required");
  }
  if (!ARCHITECTURES.includes(values.architecture!)) {
    fail(`--architecture must be one of ${ARCHITECTURES.join(", ")}`);
  }
  const num = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) fail(`--${name} must be a positive number`);
    return n;
  };
  const env = Deno.env.toObject();
  const data = locate(values.data!, env);
  const batch = num("batch", values.batch)!;
  const rows = await storeRows(data.store, data.path, {
    seed: Number(values.seed),
  });
  const steps = values.steps
    ? num("steps", values.steps)!
    : values.epochs
    ? Math.max(1, Math.round((num("epochs", values.epochs)! * rows.rows) / batch))
    : fail("give --steps or --epochs");
  let backend: Backend & { close?(): void };
  if (values.backend === "wasm") backend = await wasmBackend();
  else if (values.backend === "webgpu") backend = await webgpuBackend();
  else if (values.backend === "reference") backend = referenceBackend();
  else fail("--backend must be wasm, webgpu or reference");
  const architecture = values.architecture as TrainArchitecture;
  const tty = Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  const started = performance.now();
  const result = await trainSae(rows, {
    backend,
    architecture,
    latents: num("latents", values.latents)!,
    k: num("k", values.k),
    sparsityCoefficient: num("l1", values.l1),
    steps,
    batch,
    lr: num("lr", values.lr),
    seed: Number(values.seed),
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
    k: num("k", values.k) ?? 32,
    metadata: { data: values.data, steps, batch, seconds: (performance.now() - started) / 1000 },
  });
  const out = locate(values.out!, env);
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(values.out!) && !values.out!.startsWith("file://");
  for (const [name, bytes] of files) {
    if (isUrl) {
      if (!out.store.put) fail(`${out.store.describe} is read-only`);
      await out.store.put(out.path ? `${out.path}/${name}` : name, bytes);
    } else {
      const dir = resolve(values.out!.replace(/^file:\/\//, ""));
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

if (import.meta.main) await main();
