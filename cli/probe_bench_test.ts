/**
 * `deno task probe-bench` on a folder of two small datasets (one with a shifted test set), with
 * the demo dictionary: every regime is run and results.csv / results.md are written.
 * @module
 */

import assert from "node:assert/strict";
import { encodeNpy } from "../domain/io/npy.ts";
import { seededRandom } from "../domain/random.ts";

const BENCH = new URL("./probe_bench.ts", import.meta.url).pathname;
const STORE = new URL("../dictionaries", import.meta.url).pathname;

function dataset(
  n: number,
  d: number,
  seed: number,
  shift = 0,
): { x: Float32Array; y: Float32Array } {
  const uniform = seededRandom(seed);
  const rand = () => uniform() - 0.5;
  const x = new Float32Array(n * d);
  const y = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    let logit = 0;
    for (let c = 0; c < d; c++) {
      const v = rand() * 2 + (c === 0 ? shift : 0);
      x[r * d + c] = v;
      if (c < 3) logit += v;
    }
    y[r] = logit > 0 ? 1 : 0;
  }
  return { x, y };
}

/** Run probe-bench with `args`; its exit code and stderr. */
async function runBench(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", BENCH, ...args],
    stderr: "piped",
    stdout: "null",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** A writer of f32 .npy files into `folder`. */
function npyWriter(folder: string): (file: string, v: Float32Array, shape: number[]) => void {
  return (file, v, shape) => Deno.writeFileSync(`${folder}/${file}`, encodeNpy(v, shape));
}

Deno.test("probe-bench: runs every regime and writes results.csv and results.md", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-probe-bench-" });
  try {
    for (const [name, ood] of [["alpha", false], ["beta", true]] as const) {
      await Deno.mkdir(`${dir}/${name}`);
      const write = (file: string, v: Float32Array, shape: number[]) =>
        Deno.writeFileSync(`${dir}/${name}/${file}`, encodeNpy(v, shape));
      const train = dataset(160, 64, name.length);
      const test = dataset(80, 64, 7 + name.length);
      write("train_x.npy", train.x, [160, 64]);
      write("train_y.npy", train.y, [160]);
      write("test_x.npy", test.x, [80, 64]);
      write("test_y.npy", test.y, [80]);
      if (ood) {
        const shifted = dataset(80, 64, 99, 1.5);
        write("ood_x.npy", shifted.x, [80, 64]);
        write("ood_y.npy", shifted.y, [80]);
      }
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        BENCH,
        "--data",
        dir,
        "--dictionary",
        "demo-topk",
        "--store",
        STORE,
        "--k",
        "4",
        "--quick",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const csv = (await Deno.readTextFile(`${dir}/results.csv`)).trim().split("\n");
    assert.equal(csv[0], "dataset,regime,setting,method,val_auc,test_auc");
    const rows = csv.slice(1).map((l) => l.split(","));
    const regimes = new Set(rows.map((r) => r[1]));
    for (const g of ["standard", "scarcity", "imbalance", "noise", "shift"]) {
      assert.ok(regimes.has(g), g);
    }
    const methods = new Set(rows.map((r) => r[3]));
    for (const m of ["logistic", "pca", "knn", "sae_k4"]) assert.ok(methods.has(m), m);
    assert.ok(rows.filter((r) => r[1] === "shift").every((r) => r[0] === "beta"));
    // The standard regime is learnable: logistic regression beats chance clearly.
    const std = rows.filter((r) => r[1] === "standard" && r[3] === "logistic").map((r) =>
      Number(r[5])
    );
    assert.ok(std.every((auc) => auc > 0.65), `${std}`);
    const md = await Deno.readTextFile(`${dir}/results.md`);
    assert.match(md, /\| method \| standard \|/);
    assert.match(md, /Quiver of arrows/);
    assert.match(md, /\| shift \|/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("probe-bench: non-finite rows or a single class are refused naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-probe-bench-" });
  try {
    await Deno.mkdir(`${dir}/d`);
    const train = dataset(40, 8, 1);
    const test = dataset(20, 8, 2);
    const write = npyWriter(`${dir}/d`);
    write("test_x.npy", test.x, [20, 8]);
    write("test_y.npy", test.y, [20]);
    const run = () => runBench(["--data", dir, "--quick"]);
    const nan = train.x.slice();
    nan[8 * 5 + 2] = NaN;
    write("train_x.npy", nan, [40, 8]);
    write("train_y.npy", train.y, [40]);
    let r = await run();
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /train_x\.npy: non-finite value in row 5\n$/);
    write("train_x.npy", train.x, [40, 8]);
    write("train_y.npy", new Float32Array(40).fill(1), [40]);
    r = await run();
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /train_y\.npy: every label is 1; a probe needs both classes\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("probe-bench: a dataset lacking a file, or --data naming a dataset itself, says so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-probe-bench-" });
  try {
    await Deno.mkdir(`${dir}/d`);
    const train = dataset(40, 8, 1);
    const test = dataset(20, 8, 2);
    const write = npyWriter(`${dir}/d`);
    write("train_x.npy", train.x, [40, 8]);
    write("test_x.npy", test.x, [20, 8]);
    write("test_y.npy", test.y, [20]);
    const run = (data: string) => runBench(["--data", data, "--quick"]);
    let r = await run(dir);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: dataset .*\/d lacks train_y\.npy \(each dataset folder holds/);
    write("train_y.npy", train.y, [40]);
    r = await run(`${dir}/d`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /is a dataset folder itself; pass the folder that holds it\n$/);
    // A shifted set needs both files; hidden folders are not datasets.
    await Deno.mkdir(`${dir}/.ipynb_checkpoints`);
    write("ood_x.npy", test.x, [20, 8]);
    r = await run(dir);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /has ood_x\.npy without its pair/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("probe-bench: --k without --dictionary, or above its d_sae, is a usage error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-probe-bench-" });
  try {
    await Deno.mkdir(`${dir}/d`);
    // Present (the usage errors come before the files are read).
    for (const f of ["train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy"]) {
      await Deno.writeFile(`${dir}/d/${f}`, new Uint8Array());
    }
    const run = (extra: string[]) => runBench(["--data", dir, "--quick", ...extra]);
    let r = await run(["--k", "8"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--k sizes the SAE probes, which need --dictionary/);
    r = await run(["--dictionary", "demo-topk", "--store", STORE, "--k", "4,100000"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--k 100000 is more than demo-topk's d_sae 256/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("probe-bench: the default SAE sizes are cut to a small dictionary's d_sae", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-probe-bench-" });
  try {
    await Deno.mkdir(`${dir}/d`);
    const train = dataset(60, 12, 1);
    const test = dataset(30, 12, 2);
    const write = npyWriter(`${dir}/d`);
    write("train_x.npy", train.x, [60, 12]);
    write("train_y.npy", train.y, [60]);
    write("test_x.npy", test.x, [30, 12]);
    write("test_y.npy", test.y, [30]);
    // saelens_standard: d_in 12, d_sae 32; the defaults are 16 and 128.
    const fixtures = new URL("../tests/fixtures/dicts", import.meta.url).pathname;
    const r = await runBench([
      ...["--data", dir, "--quick", "--dictionary", "saelens_standard"],
      ...["--store", fixtures, "--backend", "reference"],
    ]);
    assert.equal(r.code, 0, r.stderr);
    const csv = await Deno.readTextFile(`${dir}/results.csv`);
    assert.match(csv, /sae_k32/);
    assert.match(csv, /sae_k16/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
