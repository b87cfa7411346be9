/**
 * Label files as numpy writes them by default (int64, int32, uint8, bool; either byte order)
 * are read by `deno task probe-bench` and `deno task circuits`; a wrong dtype or a label that
 * is not 0/1 is one `error:` line naming the file and what it found, no stack.
 * @module
 */

import assert from "node:assert/strict";
import { encodeNpy } from "../domain/io/npy.ts";
import { seededRandom } from "../domain/random.ts";

type Descr = "<i8" | ">i8" | "<i4" | "|u1" | "|b1" | "<c8";

/** An .npy v1 file of 1-D `values` stored as `descr` (c8: real parts, imaginary 0). */
function npyOf(descr: Descr, values: number[]): Uint8Array {
  const size = { "<i8": 8, ">i8": 8, "<i4": 4, "|u1": 1, "|b1": 1, "<c8": 8 }[descr];
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${values.length},), }`;
  dict += " ".repeat((64 - ((10 + dict.length + 1) % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + dict.length + values.length * size);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const view = new DataView(out.buffer);
  view.setUint16(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  values.forEach((v, i) => {
    const at = 10 + dict.length + i * size;
    if (descr === "<i8" || descr === ">i8") view.setBigInt64(at, BigInt(v), descr === "<i8");
    else if (descr === "<i4") view.setInt32(at, v, true);
    else if (descr === "<c8") view.setFloat32(at, v, true);
    else view.setUint8(at, v);
  });
  return out;
}

async function run(script: string, args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(script, import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** n rows of d columns whose label is the sign of the first three columns' sum. */
function dataset(n: number, d: number, seed: number): { x: Float32Array; y: number[] } {
  const uniform = seededRandom(seed);
  const x = Float32Array.from({ length: n * d }, () => uniform() * 2 - 1);
  const y = Array.from(
    { length: n },
    (_, r) => (x[r * d] + x[r * d + 1] + x[r * d + 2] > 0 ? 1 : 0),
  );
  return { x, y };
}

Deno.test("probe-bench: int64, big-endian int64, int32, uint8 and bool label files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-labels-" });
  try {
    const pairs: [string, Descr, Descr][] = [["alpha", "<i8", "|b1"], ["beta", "<i4", "|u1"], [
      "gamma",
      ">i8",
      "<i8",
    ]];
    for (const [name, trainDescr, testDescr] of pairs) {
      await Deno.mkdir(`${dir}/${name}`);
      const train = dataset(120, 16, name.length);
      const test = dataset(60, 16, 10 + name.length);
      await Deno.writeFile(`${dir}/${name}/train_x.npy`, encodeNpy(train.x, [120, 16]));
      await Deno.writeFile(`${dir}/${name}/train_y.npy`, npyOf(trainDescr, train.y));
      await Deno.writeFile(`${dir}/${name}/test_x.npy`, encodeNpy(test.x, [60, 16]));
      await Deno.writeFile(`${dir}/${name}/test_y.npy`, npyOf(testDescr, test.y));
    }
    const ok = await run("./probe_bench.ts", ["--data", dir, "--quick"]);
    assert.equal(ok.code, 0, ok.stderr);
    const csv = (await Deno.readTextFile(`${dir}/results.csv`)).trim().split("\n").slice(1);
    const std = csv.map((l) => l.split(",")).filter((r) =>
      r[1] === "standard" && r[3] === "logistic"
    );
    assert.deepEqual(new Set(std.map((r) => r[0])), new Set(["alpha", "beta", "gamma"]));
    assert.ok(std.every((r) => Number(r[5]) > 0.65), `${std}`);

    // A label 2 in an int64 file: one line naming the file, the element and the value.
    const y = dataset(60, 16, 11).y;
    y[7] = 2;
    await Deno.writeFile(`${dir}/beta/test_y.npy`, npyOf("<i8", y));
    const bad = await run("./probe_bench.ts", ["--data", dir, "--quick"]);
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr.trim().split("\n").at(-1), // after alpha's progress lines
      `error: ${dir}/beta/test_y.npy: npy: label 2 at element 7 is outside 0..1`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("circuits: bool labels are read; a complex label file names the file and its dtype", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-labels-" });
  try {
    const examples = 16;
    const heads = 3;
    const d = 8;
    const labels = Array.from({ length: examples }, (_, e) => (e % 2 === 0 ? 1 : 0));
    const data = new Float32Array(examples * heads * d);
    for (let e = 0; e < examples; e++) {
      for (let h = 0; h < heads; h++) {
        // Head 1 is the circuit: its direction depends on the label.
        const k = h === 1 ? (labels[e] ? 3 : 5) : h + 7;
        for (let c = 0; c < d; c++) {
          data[(e * heads + h) * d + c] = Math.sin((k + 1) * (c + 1)) * (1 + 0.01 * e);
        }
      }
    }
    await Deno.writeFile(`${dir}/heads.npy`, encodeNpy(data, [examples, heads, d]));
    const args = (labelFile: string) => [
      "--data",
      `${dir}/heads.npy`,
      "--labels",
      labelFile,
      "--latents",
      "16",
      "--epochs",
      "100",
      "--lr",
      "0.005",
      "--out",
      dir,
    ];
    await Deno.writeFile(`${dir}/labels.npy`, npyOf("|b1", labels));
    const ok = await run("./circuits.ts", args(`${dir}/labels.npy`));
    assert.equal(ok.code, 0, ok.stderr);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/circuit.json`));
    assert.equal(json.heads[0].name, "L0H1");

    await Deno.writeFile(`${dir}/complex.npy`, npyOf("<c8", labels));
    const bad = await run("./circuits.ts", args(`${dir}/complex.npy`));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr.trim(), /^error: \S+\/complex\.npy: npy: dtype <c8 is not supported/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
