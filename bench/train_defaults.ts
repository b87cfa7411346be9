/**
 * Do the training defaults converge without tuning? Generates planted data at several sizes,
 * runs `train` and `train-aligned` through their command code with only the required flags,
 * and prints a table of FVUs on held-out rows.
 *
 * - train-aligned: two views of C shared sparse concepts (3 active per row) through two random
 *   linear maps plus small noise, 10000 paired rows; `--latents 2C --k 3`. Goal: translation
 *   FVU <= 0.15 both ways.
 * - train: rows of 3 of C planted unit atoms plus noise, 20000 rows; `--latents 2C --k 3`.
 *   Goal (domain/train/trainer_test.ts's planted test): mean max cosine to the atoms >= 0.9 and
 *   FVU below the planted atoms' own (TopK) FVU.
 *
 *   deno run -A bench/train_defaults.ts [--sizes 32x32,128x128,256x512] [--only train|aligned]
 * @module
 */

import { encodeNpy } from "../domain/io/npy.ts";
import { alignedFvu, topkFvu } from "../domain/train/evaluate.ts";
import {
  meanMaxCosine,
  plantedBaselineFvu,
  plantedRows,
  twoViewRows,
} from "../domain/train/planted.ts";
import { trainCommand } from "../cli/train.ts";
import { trainAlignedCommand } from "../cli/train_aligned.ts";

const args = Deno.args;
const flag = (name: string) => {
  const at = args.indexOf(`--${name}`);
  return at < 0 ? undefined : args[at + 1];
};
const sizes = (flag("sizes") ?? "32x32,128x128,256x512").split(",").map((s) => {
  const [concepts, d] = s.split("x").map(Number);
  return { concepts, d };
});
const only = flag("only");
const ACTIVE = 3;
const quiet = () => {};

interface Row {
  size: string;
  kind: string;
  steps: string;
  seconds: number;
  figures: string;
  pass: boolean;
}
const table: Row[] = [];
const dir = await Deno.makeTempDir({ prefix: "saeserve-train-defaults-" });
try {
  for (const { concepts: C, d } of sizes) {
    const size = `C=${C} d=${d}`;
    if (only !== "train") {
      const dB = Math.round((3 * d) / 4);
      const sample = twoViewRows({ concepts: C, dA: d, dB, active: ACTIVE, seed: C + d });
      const train = sample(10_000);
      const test = sample(1000);
      await Deno.writeFile(`${dir}/a.npy`, encodeNpy(train.a.data, [10_000, d]));
      await Deno.writeFile(`${dir}/b.npy`, encodeNpy(train.b.data, [10_000, dB]));
      const t0 = performance.now();
      const report = await trainAlignedCommand([
        ...["--stream", `a=${dir}/a.npy`, "--stream", `b=${dir}/b.npy`],
        ...["--out", `${dir}/aligned`, "--latents", String(2 * C), "--k", String(ACTIVE)],
      ], { log: quiet });
      const seconds = (performance.now() - t0) / 1000;
      const f = alignedFvu(report.dictionary, new Map([["a", test.a], ["b", test.b]]));
      const [ab, ba] = [f.cross["a->b"], f.cross["b->a"]];
      table.push({
        size: `${size}/${dB}`,
        kind: "train-aligned",
        steps: `${report.steps}/${report.plannedSteps}`,
        seconds,
        figures: `a->b ${ab.toFixed(3)}  b->a ${ba.toFixed(3)}  self a ${
          f.self.a.toFixed(3)
        }  self b ${f.self.b.toFixed(3)}`,
        pass: ab <= 0.15 && ba <= 0.15,
      });
      console.error(JSON.stringify(table.at(-1)));
    }
    if (only !== "aligned") {
      const source = plantedRows({ d, atoms: C, active: ACTIVE, seed: C + d });
      const rows = await source.next(20_000);
      const test = await source.next(1000);
      await Deno.writeFile(`${dir}/x.npy`, encodeNpy(rows.data, [20_000, d]));
      const t0 = performance.now();
      const report = await trainCommand([
        ...["--data", `${dir}/x.npy`, "--out", `${dir}/sae`],
        ...["--latents", String(2 * C), "--k", String(ACTIVE)],
      ], { log: quiet });
      const seconds = (performance.now() - t0) / 1000;
      const params = report.result.params;
      const cosine = meanMaxCosine(source.atoms, params.wDec, { d });
      const fvu = topkFvu(params, test, { k: ACTIVE });
      const baseline = plantedBaselineFvu(test, source.atoms, { k: ACTIVE });
      table.push({
        size,
        kind: "train",
        steps: `${report.result.steps}/${report.plannedSteps}`,
        seconds,
        figures: `cosine ${cosine.toFixed(3)}  FVU ${fvu.toFixed(3)}  planted baseline ${
          baseline.toFixed(3)
        }`,
        pass: cosine >= 0.9 && fvu < baseline,
      });
      console.error(JSON.stringify(table.at(-1)));
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
console.log("| size | command | steps (run/planned) | seconds | held-out figures | goal met |");
console.log("|---|---|---|---|---|---|");
for (const r of table) {
  console.log(
    `| ${r.size} | ${r.kind} | ${r.steps} | ${r.seconds.toFixed(0)} | ${r.figures} | ${
      r.pass ? "yes" : "NO"
    } |`,
  );
}
