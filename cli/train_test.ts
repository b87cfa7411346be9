/**
 * The `deno task train` CLI as a user runs it: a folder of .npy and .safetensors shards in, a
 * SAELens folder out (locally, and through an S3 server both ways), one log line per interval
 * on a non-terminal stderr, clear errors for bad arguments.
 * @module
 */

import assert from "node:assert/strict";
import { startS3rver, stopS3rver } from "../tests/s3rver.ts";
import { encodeNpy } from "../domain/io/npy.ts";
import { uniformArray } from "../domain/random.ts";
import { encodeSafetensors } from "../domain/io/safetensors.ts";
import { s3Store } from "../service/store/s3.ts";
import { topkFvu } from "../domain/train/evaluate.ts";
import { meanMaxCosine, plantedBaselineFvu, plantedRows } from "../domain/train/planted.ts";
import { trainCommand } from "./train.ts";

const TRAIN = new URL("./train.ts", import.meta.url).pathname;

function rows(n: number, d: number, seed: number): Float32Array {
  return uniformArray(n * d, seed);
}

async function run(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TRAIN, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("train CLI: shards in a folder -> SAELens folder with metrics, logged per interval", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-cli-" });
  try {
    await Deno.mkdir(`${dir}/data`);
    await Deno.writeFile(`${dir}/data/a.npy`, encodeNpy(rows(200, 12, 1), [200, 12]));
    await Deno.writeFile(
      `${dir}/data/b.safetensors`,
      encodeSafetensors({ activations: { shape: [150, 12], data: rows(150, 12, 2) } }),
    );
    const { code, stderr } = await run([
      "--data",
      `${dir}/data`,
      "--out",
      `${dir}/sae`,
      "--architecture",
      "topk",
      "--latents",
      "24",
      "--k",
      "3",
      "--epochs",
      "2",
      "--batch",
      "50",
      "--backend",
      "reference",
    ]);
    assert.equal(code, 0, stderr);
    // 2 epochs of 350 rows at 50 per batch = 14 steps; non-terminal stderr: one line per interval.
    assert.match(stderr, /step 14\/14/);
    assert.ok(stderr.split("\n").filter((l) => l.includes("steps/s")).length >= 2);
    const cfg = JSON.parse(await Deno.readTextFile(`${dir}/sae/cfg.json`));
    assert.deepEqual([cfg.architecture, cfg.d_in, cfg.d_sae, cfg.k], ["topk", 12, 24, 3]);
    const metrics = JSON.parse(await Deno.readTextFile(`${dir}/sae/metrics.json`));
    assert.ok(metrics.final.fvu > 0 && metrics.curve.length > 0);
    assert.ok((await Deno.stat(`${dir}/sae/sae_weights.safetensors`)).size > 24 * 12 * 8);

    // Again into the same folder: refused without --overwrite; with it, saeserve.json's hashes
    // follow the new files (old ones would fail every later load's check).
    const again = ["--data", `${dir}/data`, "--out", `${dir}/sae`, "--latents", "24", "--k", "3"];
    const short = ["--steps", "3", "--batch", "50", "--backend", "reference"];
    await Deno.writeTextFile(
      `${dir}/sae/saeserve.json`,
      JSON.stringify({ sha256: { "sae_weights.safetensors": "0".repeat(64) } }),
    );
    const refused = await run([...again, ...short]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      /already holds a dictionary \(cfg\.json, sae_weights\.safetensors, saeserve\.json\): pass --overwrite/,
    );
    const replaced = await run([...again, ...short, "--seed", "7", "--overwrite"]);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.match(replaced.stderr, /saeserve\.json's sha256 updated for sae_weights\.safetensors/);
    const weights = await Deno.readFile(`${dir}/sae/sae_weights.safetensors`);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", weights));
    const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    const sidecar = JSON.parse(await Deno.readTextFile(`${dir}/sae/saeserve.json`));
    assert.equal(sidecar.sha256["sae_weights.safetensors"], hex);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train CLI: data from and output to an S3 store", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-cli-s3-" });
  const { server, port } = await startS3rver(dir);
  const env = {
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
  };
  try {
    const store = s3Store(new URL("s3://b"), env);
    await store.put!("acts/x.npy", encodeNpy(rows(128, 8, 3), [128, 8]));
    const { code, stderr } = await run([
      "--data",
      "s3://b/acts/x.npy",
      "--out",
      "s3://b/saes/run1",
      "--architecture",
      "relu",
      "--latents",
      "16",
      "--l1",
      "0.01",
      "--steps",
      "5",
      "--batch",
      "32",
      "--backend",
      "wasm",
    ], env);
    assert.equal(code, 0, stderr);
    const names = (await store.list("saes/run1/")).map((e) => e.path).sort();
    assert.deepEqual(names, [
      "saes/run1/cfg.json",
      "saes/run1/metrics.json",
      "saes/run1/sae_weights.safetensors",
    ]);
  } finally {
    await stopS3rver(server);
    await Deno.remove(dir, { recursive: true });
  }
});

/** The README's train command, whose --data folder is a placeholder. */
const README_ARGS = [
  "--data",
  "acts/",
  "--out",
  "my-sae/",
  "--architecture",
  "topk",
  "--latents",
  "16384",
  "--k",
  "32",
  "--steps",
  "2000",
  "--batch",
  "4096",
];

Deno.test("train CLI: missing or bad arguments fail with one clear line, before any work", async () => {
  const missing = await run(["--data", "x.npy"]);
  assert.equal(missing.code, 2);
  assert.equal(
    missing.stderr,
    "error: --out, --latents are required (see: deno task train --help)\n",
  );
  const base = ["--data", "x.npy", "--out", "o", "--latents", "4"];
  const arch = await run([...base, "--architecture", "gated", "--steps", "1"]);
  assert.equal(arch.code, 2);
  assert.match(
    arch.stderr,
    /^error: --architecture must be one of topk, batchtopk, jumprelu, relu/,
  );
  const backend = await run([...base, "--backend", "wsam", "--steps", "1"]);
  assert.equal(backend.code, 2);
  assert.match(backend.stderr, /--backend must be one of auto, webgpu, wasm, reference/);
  const length = await run([...base, "--steps", "5", "--epochs", "2"]);
  assert.equal(length.code, 2);
  assert.match(length.stderr, /^error: give --steps or --epochs, not both/);
  // The README's command with its placeholder folder: exit 1 naming the folder, no stack.
  const dir = await Deno.makeTempDir({ prefix: "saeserve-cli-missing-" });
  try {
    const placeholder = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", TRAIN, ...README_ARGS],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(placeholder.stderr);
    assert.equal(placeholder.code, 1);
    assert.equal(stderr, `error: --data acts/: no such file or folder (${dir}/acts)\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// The smallest size of bench/train_defaults.ts's statistical run, in a few seconds.
Deno.test("train CLI: a k above the latents, fewer than 2 rows or a batch above them is refused before training", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-cli-" });
  try {
    await Deno.writeFile(`${dir}/many.npy`, encodeNpy(rows(40, 8, 3), [40, 8]));
    await Deno.writeFile(`${dir}/one.npy`, encodeNpy(rows(1, 8, 4), [1, 8]));
    const train = (args: string[]) =>
      trainCommand([...args, "--out", `${dir}/out`, "--steps", "2"], { log: () => {} });
    await assert.rejects(
      train(["--data", `${dir}/many.npy`, "--latents", "16", "--k", "64"]),
      /--k 64 is more than --latents 16/,
    );
    await assert.rejects(
      train(["--data", `${dir}/many.npy`, "--latents", "16"]),
      /--k 32 \(the default\) is more than --latents 16/,
    );
    await assert.rejects(
      train(["--data", `${dir}/one.npy`, "--latents", "16", "--k", "4"]),
      /holds 1 row; training needs at least 2/,
    );
    await assert.rejects(
      train(["--data", `${dir}/many.npy`, "--latents", "1000000000", "--k", "4"]),
      /--latents 1000000000 at d_in 8 and batch \d+ needs about [\d.]+ GiB; this machine has/,
    );
    await assert.rejects(
      train(["--data", `${dir}/many.npy`, "--latents", "16", "--k", "3", "--architecture", "relu"]),
      /--k applies to topk and batchtopk; relu is sparse through --l1/,
    );
    await assert.rejects(
      train(["--data", `${dir}/many.npy`, "--latents", "16", "--k", "4", "--batch", "41"]),
      /--batch 41 is more than the 40 rows in --data .*many\.npy; a batch would repeat rows \(use at most 40\)/,
    );
    await Deno.mkdir(`${dir}/empty`);
    await assert.rejects(
      train(["--data", `${dir}/empty`, "--latents", "16", "--k", "4"]),
      /--data .*\/empty: no \.npy or \.safetensors rows there$/,
    );
    // The other kinds take no k.
    await train(["--data", `${dir}/many.npy`, "--latents", "16", "--architecture", "relu"]);
    assert.ok((await Deno.stat(`${dir}/out/cfg.json`)).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train CLI: only the required flags recover planted atoms (16 atoms, d 16)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-train-defaults-" });
  try {
    const source = plantedRows({ d: 16, atoms: 16, active: 3, seed: 1 });
    const x = await source.next(4000);
    const test = await source.next(500);
    await Deno.writeFile(`${dir}/x.npy`, encodeNpy(x.data, [4000, 16]));
    const lines: string[] = [];
    const report = await trainCommand([
      ...["--data", `${dir}/x.npy`, "--out", `${dir}/sae`, "--latents", "32", "--k", "3"],
    ], { log: (line) => lines.push(line) });
    const cosine = meanMaxCosine(source.atoms, report.result.params.wDec, { d: 16 });
    const fvu = topkFvu(report.result.params, test, { k: 3 });
    const baseline = plantedBaselineFvu(test, source.atoms, { k: 3 });
    assert.ok(cosine >= 0.9 && fvu < baseline, `cosine ${cosine}, FVU ${fvu} vs ${baseline}`);
    assert.ok(report.result.steps < report.plannedSteps, "a plateau ends the run early");
    assert.ok(lines.some((l) => /^final FVU \d\.\d{4}, L0 .*not held-out data\)$/.test(l)));
    assert.match(lines[0], /^train: 4000 rows of d_in 16 from /);
    const metrics = JSON.parse(await Deno.readTextFile(`${dir}/sae/metrics.json`));
    assert.equal(metrics.steps, report.result.steps);
    assert.equal(metrics.final.fvu, report.result.final.fvu);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train CLI: an --out that cannot be made fails before training; a diverged run writes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-cli-" });
  try {
    await Deno.writeFile(`${dir}/acts.npy`, encodeNpy(rows(64, 8, 5), [64, 8]));
    const log: string[] = [];
    await assert.rejects(
      trainCommand(
        [
          "--data",
          `${dir}/acts.npy`,
          "--out",
          `${dir}/acts.npy/sub`,
          "--latents",
          "16",
          "--k",
          "4",
        ],
        { log: (l) => log.push(l) },
      ),
      /--out .*acts\.npy\/sub: cannot create it/,
    );
    assert.deepEqual(log, [], "nothing was trained");
    await assert.rejects(
      trainCommand(
        [
          "--data",
          `${dir}/acts.npy`,
          "--out",
          `${dir}/diverged`,
          "--latents",
          "16",
          "--k",
          "4",
          "--lr",
          "1e9",
          "--steps",
          "30",
        ],
        { log: () => {} },
      ),
      /training diverged .*nothing was written.*lower --lr/,
    );
    assert.deepEqual([...Deno.readDirSync(`${dir}/diverged`)], [], "no files in --out");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
