/**
 * `deno task probe-bench --data DIR [--dictionary ID --store URL] [--k 16,128] [--quick]`: every
 * probing method on every dataset of DIR (NAME/train_x.npy, train_y.npy, test_x.npy, test_y.npy,
 * optional ood_x.npy, ood_y.npy) under each regime. Writes DIR/results.csv (dataset, regime,
 * setting, method, val_auc, test_auc) and DIR/results.md: mean test AUC per method and regime,
 * and the quiver of arrows (best method by validation AUC) with and without SAE probes.
 * `--help` lists every option.
 * @module
 */

import { decodeNpy, decodeNpyLabels } from "../domain/io/npy.ts";
import { type Matrix, matrix, type SparseRows } from "../domain/sae/matrix.ts";
import { type MethodResult, type ProbeMethod, trainProbes } from "../domain/probe/probes.ts";
import { flipLabels, regimeSettings, sampleRows } from "../domain/probe/regimes.ts";
import { Registry } from "../service/registry.ts";
import { encodeRows } from "../domain/sae/sae.ts";
import { openStore } from "../service/store/mod.ts";
import { BACKEND_CHOICES, openBackend } from "../backends/select.ts";
import { type CommandSpec, type OptionSpec, parseOptions, UsageError } from "./args.ts";
import { CliError, runCli } from "./run.ts";

/** The options of `deno task probe-bench`. */
export const PROBE_BENCH_SPEC = {
  name: "probe-bench",
  example: "--data my-datasets/ --dictionary demo-topk --quick",
  summary: "Every probing method on every dataset of a folder (NAME/train_x.npy, train_y.npy,\n" +
    "test_x.npy, test_y.npy, optional ood_x.npy, ood_y.npy) under each regime; writes\n" +
    "DIR/results.csv and DIR/results.md.",
  options: {
    data: {
      type: "string",
      required: true,
      placeholder: "DIR",
      description: "The folder of dataset folders.",
    },
    dictionary: {
      type: "string",
      placeholder: "ID",
      description: "Add SAE probes on this dictionary's codes.",
    },
    store: {
      type: "string",
      default: "file://./dictionaries",
      placeholder: "URL",
      description: "Where --dictionary is read from.",
    },
    k: { type: "list", default: "16,128", placeholder: "K,K", description: "SAE probe sizes." },
    quick: { type: "boolean", description: "Fewer settings per regime." },
    seed: { type: "integer", default: 0, description: "Seed of the samples and folds." },
    backend: {
      type: "string",
      default: "wasm",
      choices: BACKEND_CHOICES,
      description: "Compute backend of the SAE encodes (wasm falls back to reference).",
    },
  },
} as const satisfies CommandSpec<Record<string, OptionSpec>>;

/** One result row. */
export interface BenchRow {
  dataset: string;
  regime: string;
  setting: string;
  method: string;
  valAuc: number;
  testAuc: number;
  isSae: boolean;
  group: string;
}

function asMatrix(path: string): Matrix {
  const t = decodeNpy(Deno.readFileSync(path), { name: path });
  if (t.shape.length !== 2) throw new CliError(`${path} must be 2-D`);
  const bad = t.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new CliError(`${path}: non-finite value in row ${Math.floor(bad / t.shape[1])}`);
  }
  return matrix([t.shape[0], t.shape[1]], t.data);
}

/** 0/1 labels, one per row of `x`, both classes present: integer, bool or whole-number floats. */
function asLabels(path: string, x: Matrix): Uint8Array {
  const y = decodeNpyLabels(Deno.readFileSync(path), { name: path }).data;
  if (y.length !== x.rows) throw new CliError(`${path} has ${y.length} labels for ${x.rows} rows`);
  if (!y.includes(0) || !y.includes(1)) {
    throw new CliError(`${path}: every label is ${y[0]}; a probe needs both classes`);
  }
  return y;
}

function rowsOf(x: Matrix, idx: number[]): Matrix {
  const out = matrix([idx.length, x.cols]);
  idx.forEach((r, t) => out.data.set(x.data.subarray(r * x.cols, (r + 1) * x.cols), t * x.cols));
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);

/** results.md: mean test AUC per method and regime, and the quiver with and without SAE probes. */
export function summarize(rows: BenchRow[]): string {
  const regimes = [...new Set(rows.map((r) => r.regime))];
  const methods = [...new Set(rows.map((r) => r.method))];
  const lines = ["# Probing benchmark", "", "Mean test ROC AUC per method and regime.", ""];
  lines.push(
    `| method | ${regimes.join(" | ")} |`,
    `| --- | ${regimes.map(() => "---:").join(" | ")} |`,
  );
  for (const m of methods) {
    const cells = regimes.map((g) => {
      const xs = rows.filter((r) => r.method === m && r.regime === g).map((r) => r.testAuc).filter(
        Number.isFinite,
      );
      return xs.length ? mean(xs).toFixed(3) : "";
    });
    lines.push(`| ${m} | ${cells.join(" | ")} |`);
  }
  lines.push(
    "",
    "Quiver of arrows: per dataset and setting, the method with the best validation AUC.",
    "",
  );
  lines.push(
    "| regime | baselines only | with SAE probes | SAE picked |",
    "| --- | ---: | ---: | ---: |",
  );
  for (const g of regimes) {
    const groups = [...new Set(rows.filter((r) => r.regime === g).map((r) => r.group))];
    const pick = (cands: BenchRow[]) => cands.reduce((a, b) => (b.valAuc > a.valAuc ? b : a));
    const without: number[] = [];
    const withSae: number[] = [];
    let saePicked = 0;
    for (const grp of groups) {
      const cands = rows.filter((r) => r.group === grp && Number.isFinite(r.valAuc));
      const base = cands.filter((r) => !r.isSae);
      if (base.length) without.push(pick(base).testAuc);
      if (cands.length) {
        const best = pick(cands);
        withSae.push(best.testAuc);
        if (best.isSae) saePicked++;
      }
    }
    lines.push(
      `| ${g} | ${mean(without).toFixed(3)} | ${
        mean(withSae).toFixed(3)
      } | ${saePicked}/${groups.length} |`,
    );
  }
  return lines.join("\n") + "\n";
}

async function main(): Promise<void> {
  const values = parseOptions(PROBE_BENCH_SPEC, Deno.args);
  const dir = values.data;
  const info = await Deno.stat(dir).catch((e) => {
    if (e instanceof Deno.errors.NotFound) throw new CliError(`--data ${dir}: no such folder`);
    throw e;
  });
  if (!info.isDirectory) throw new CliError(`--data ${dir} is not a folder`);
  // Hidden folders (.ipynb_checkpoints, .cache) are not datasets.
  const datasets = [...Deno.readDirSync(dir)].filter((e) =>
    e.isDirectory && !e.name.startsWith(".")
  )
    .map((e) => e.name).sort();
  const required = ["train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy"];
  const has = (folder: string, file: string) => {
    try {
      return Deno.statSync(`${folder}/${file}`).isFile;
    } catch {
      return false;
    }
  };
  if (datasets.length === 0) {
    throw new CliError(
      required.some((f) => has(dir, f))
        ? `--data ${dir} is a dataset folder itself; pass the folder that holds it`
        : `no dataset folders in ${dir} (each holds ${required.join(", ")})`,
    );
  }
  let ks = values.k.map((k) => {
    const n = Number(k);
    if (!Number.isInteger(n) || n < 1) {
      throw new UsageError(`--k must be a comma list of positive integers, not ${values.k}`);
    }
    return n;
  });
  const kGiven = Deno.args.some((a) => a === "--k" || a.startsWith("--k="));
  if (!values.dictionary && kGiven) {
    throw new UsageError("--k sizes the SAE probes, which need --dictionary");
  }
  for (const name of datasets) {
    const missing = required.filter((f) => !has(`${dir}/${name}`, f));
    if (missing.length) {
      throw new CliError(
        `dataset ${dir}/${name} lacks ${missing.join(", ")} (each dataset folder holds ` +
          `${required.join(", ")}; ood_x.npy and ood_y.npy are optional)`,
      );
    }
    const ood = ["ood_x.npy", "ood_y.npy"].filter((f) => has(`${dir}/${name}`, f));
    if (ood.length === 1) {
      throw new CliError(
        `dataset ${dir}/${name} has ${ood[0]} without its pair (the shifted set needs both ` +
          "ood_x.npy and ood_y.npy)",
      );
    }
  }
  let encode: ((x: Matrix) => Promise<SparseRows>) | undefined;
  let close = () => {};
  if (values.dictionary) {
    const backend = await openBackend(values.backend).catch((e: Error) => {
      if (values.backend !== "wasm") throw e;
      console.error(`probe-bench: wasm failed to start (${e.message}); using reference`);
      return openBackend("reference");
    });
    const registry = new Registry(openStore(values.store, Deno.env.toObject()), {
      backend,
      memoryBudget: 8 * 2 ** 30,
    });
    const lease = await registry.acquire(values.dictionary);
    const dSae = lease.description.dSae;
    // The default sizes (16, 128) are cut to the dictionary; sizes the user gave are checked.
    if (!kGiven) ks = [...new Set(ks.map((k) => Math.min(k, dSae)))];
    const over = ks.find((k) => k > dSae);
    if (over !== undefined) {
      lease.release();
      registry.close();
      backend.close?.();
      throw new UsageError(`--k ${over} is more than ${values.dictionary}'s d_sae ${dSae}`);
    }
    encode = async (x) => (await encodeRows({ backend, prepared: lease.prepared }, x, {})).codes;
    close = () => {
      lease.release();
      registry.close();
      backend.close?.();
    };
  }
  const methods: ProbeMethod[] = ["logistic", "pca", "knn", ...(encode ? ["sae" as const] : [])];
  const rows: BenchRow[] = [];
  try {
    for (const name of datasets) {
      const path = (f: string) => `${dir}/${name}/${f}`;
      const trainX = asMatrix(path("train_x.npy"));
      const trainY = asLabels(path("train_y.npy"), trainX);
      const testX = asMatrix(path("test_x.npy"));
      const testY = asLabels(path("test_y.npy"), testX);
      let ood: { x: Matrix; y: Uint8Array } | null = null;
      try {
        const x = asMatrix(path("ood_x.npy"));
        ood = { x, y: asLabels(path("ood_y.npy"), x) };
      } catch (e) {
        // The shifted set is optional; a broken one is an error, not a silent skip.
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        ood = null;
      }
      // The test set is its own file: every training row may train (the paper's "size - 100"
      // held its 100 test rows out of the same set).
      const settings = regimeSettings(trainX.rows, {
        quick: values.quick,
        hasShift: !!ood,
        testRows: 0,
      });
      for (const s of settings) {
        const idx = sampleRows(trainY, {
          n: s.n,
          positiveFraction: s.positiveFraction,
          seed: values.seed,
        });
        let y: Uint8Array = Uint8Array.from(idx, (i) => trainY[i]);
        if (s.noise > 0) y = flipLabels(y, { fraction: s.noise, seed: values.seed });
        if (y.every((v) => v === y[0])) continue; // a flip or tiny sample left one class
        const test = s.shifted ? ood! : { x: testX, y: testY };
        const result = await trainProbes(
          { x: rowsOf(trainX, idx), y, testX: test.x, testY: test.y },
          { methods, ks, encode, seed: values.seed },
        );
        const group = `${name}/${s.regime}/${s.setting}`;
        for (const m of result.methods as MethodResult[]) {
          rows.push({
            dataset: name,
            regime: s.regime,
            setting: s.setting,
            method: m.k === undefined ? m.method : `sae_k${m.k}`,
            valAuc: m.valAuc,
            testAuc: m.testAuc ?? NaN,
            isSae: m.method === "sae",
            group,
          });
        }
        console.error(`probe-bench: ${group} done`);
      }
    }
  } finally {
    close();
  }
  const csv = ["dataset,regime,setting,method,val_auc,test_auc"]
    .concat(
      rows.map((r) =>
        [r.dataset, r.regime, r.setting, r.method, r.valAuc.toFixed(6), r.testAuc.toFixed(6)].join(
          ",",
        )
      ),
    );
  Deno.writeTextFileSync(`${dir}/results.csv`, csv.join("\n") + "\n");
  Deno.writeTextFileSync(`${dir}/results.md`, summarize(rows));
  console.error(
    `probe-bench: wrote ${dir}/results.csv (${rows.length} rows) and ${dir}/results.md`,
  );
}

if (import.meta.main) await runCli("probe-bench", main);
