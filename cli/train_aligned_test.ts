/**
 * `deno task train-aligned` end to end: two paired .npy streams in, an aligned folder out that
 * the service loads and translates with.
 * @module
 */

import assert from "node:assert/strict";
import { encodeNpy } from "../domain/io/npy.ts";
import { fileStore } from "../service/store/file.ts";
import { postJson, testApp } from "../tests/helpers.ts";
import { alignedFvu } from "../domain/train/evaluate.ts";
import { twoViewRows } from "../domain/train/planted.ts";
import { trainAlignedCommand } from "./train_aligned.ts";

Deno.test("train-aligned CLI: writes a folder the service serves", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-aligned-" });
  try {
    const n = 300;
    const a = new Float32Array(n * 6);
    const b = new Float32Array(n * 4);
    for (let r = 0; r < n; r++) {
      const c = r % 5;
      for (let d = 0; d < 6; d++) a[r * 6 + d] = Math.sin((c + 1) * (d + 1)) * (1 + (r % 7) / 7);
      for (let d = 0; d < 4; d++) b[r * 4 + d] = Math.cos((c + 2) * (d + 1)) * (1 + (r % 7) / 7);
    }
    await Deno.writeFile(`${dir}/a.npy`, encodeNpy(a, [n, 6]));
    await Deno.writeFile(`${dir}/b.npy`, encodeNpy(b, [n, 4]));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./train_aligned.ts", import.meta.url).pathname,
        "--stream",
        `a=${dir}/a.npy`,
        "--stream",
        `b=${dir}/b.npy`,
        "--out",
        `${dir}/store/paired`,
        "--latents",
        "16",
        "--k",
        "2",
        "--steps",
        "150",
        "--batch",
        "32",
        "--lr",
        "0.003",
        "--auxk",
        "4",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const { app, registry } = testApp({ store: fileStore(`${dir}/store`) });
    try {
      const rows = Array.from({ length: 3 }, (_, r) => Array.from(a.subarray(r * 6, r * 6 + 6)));
      const res = await postJson(app, {
        path: "/v1/aligned/paired/translate",
        body: {
          from: "a",
          to: "b",
          activations: rows,
        },
      });
      assert.equal(res.status, 200, await res.clone().text());
      const y: number[][] = (await res.json()).activations;
      assert.deepEqual([y.length, y[0].length], [3, 4]);
      assert.ok(y.flat().every(Number.isFinite));
    } finally {
      registry.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// The smallest size of bench/train_defaults.ts's statistical run, in a few seconds.
Deno.test("train-aligned CLI: only the required flags converge (16 concepts, d 16 and 12)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-aligned-defaults-" });
  try {
    const sample = twoViewRows({ concepts: 16, dA: 16, dB: 12, active: 3, seed: 1 });
    const train = sample(4000);
    const test = sample(500);
    await Deno.writeFile(`${dir}/a.npy`, encodeNpy(train.a.data, [4000, 16]));
    await Deno.writeFile(`${dir}/b.npy`, encodeNpy(train.b.data, [4000, 12]));
    const lines: string[] = [];
    const report = await trainAlignedCommand([
      ...["--stream", `a=${dir}/a.npy`, "--stream", `b=${dir}/b.npy`],
      ...["--out", `${dir}/out`, "--latents", "32", "--k", "3"],
    ], { log: (line) => lines.push(line) });
    const held = alignedFvu(report.dictionary, new Map([["a", test.a], ["b", test.b]]));
    assert.ok(held.cross["a->b"] <= 0.15 && held.cross["b->a"] <= 0.15, JSON.stringify(held));
    assert.ok(report.steps < report.plannedSteps, `a plateau ends the run early: ${report.steps}`);
    assert.ok(lines.some((l) => /^ {2}b: FVU self \d\.\d{4}, from a \d\.\d{4}$/.test(l)));
    const metrics = JSON.parse(await Deno.readTextFile(`${dir}/out/metrics.json`));
    assert.deepEqual(Object.keys(metrics.final.fvu.cross).sort(), ["a->b", "b->a"]);
    assert.equal(metrics.steps, report.steps);
    assert.equal(metrics.lr, 2e-4 / Math.sqrt(32 / 16384));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train-aligned CLI: names, duplicates, k, NaN rows, folders and an unwritable --out are refused before training", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-aligned-" });
  try {
    const ok = new Float32Array(40 * 3).map((_, i) => Math.sin(i));
    const nan = ok.slice();
    nan[3 * 7 + 1] = NaN;
    await Deno.writeFile(`${dir}/a.npy`, encodeNpy(ok, [40, 3]));
    await Deno.writeFile(`${dir}/nan.npy`, encodeNpy(nan, [40, 3]));
    await Deno.mkdir(`${dir}/folder`);
    const run = (streams: string[], k = "2") => {
      const args = streams.flatMap((s) => ["--stream", s]);
      return trainAlignedCommand(
        [...args, "--out", `${dir}/out`, "--latents", "8", "--k", k, "--steps", "2"],
        { log: () => {} },
      );
    };
    await assert.rejects(run([`a b=${dir}/a.npy`, `c=${dir}/a.npy`]), /a name is 1 to 64/);
    await assert.rejects(run([`a=${dir}/a.npy`, `a=${dir}/a.npy`]), /--stream a is given twice/);
    await assert.rejects(
      run([`a=${dir}/a.npy`, `b=${dir}/a.npy`], "9"),
      /--k 9 is more than --latents 8/,
    );
    await assert.rejects(
      run([`a=${dir}/a.npy`, `b=${dir}/nan.npy`]),
      /--stream b: non-finite value in row 7/,
    );
    await assert.rejects(
      trainAlignedCommand(
        [
          "--stream",
          `a=${dir}/a.npy`,
          "--out",
          `${dir}/out`,
          "--latents",
          "100000000000",
          "--k",
          "2",
        ],
        { log: () => {} },
      ),
      /needs about [\d.]+ GiB; this machine has/,
    );
    await Deno.writeTextFile(`${dir}/file`, "x");
    for (
      const [out, pattern] of [
        [`${dir}/file/out`, /--out .*\/file\/out: cannot create it/],
        [
          "https://example.invalid/models",
          /--out https:\/\/example\.invalid\/models: .* is read-only/,
        ],
      ] as const
    ) {
      await assert.rejects(
        trainAlignedCommand(
          [
            "--stream",
            `a=${dir}/a.npy`,
            "--stream",
            `b=${dir}/a.npy`,
            "--out",
            out,
            "--latents",
            "8",
            "--k",
            "2",
          ],
          { log: () => {} },
        ),
        pattern,
      );
    }
    await assert.rejects(
      run([`a=${dir}/a.npy`, `b=${dir}/folder`]),
      /--stream b: .* not a readable \.npy file/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
