/**
 * `deno task circuits` end to end on a small planted .npy pair: ranked table on stdout,
 * circuit.json and the head x layer SVG written; on the real fixture no warning and a readable
 * SVG; on unpaired data a warning line on stderr and in circuit.json; a bad --out, options out of
 * range and a diverging run refused in one error line, before any work where they can be.
 * @module
 */

import assert from "node:assert/strict";
import { encodeNpy } from "../domain/io/npy.ts";
import { gaussian, seededRandom } from "../domain/random.ts";

const CIRCUITS = new URL("./circuits.ts", import.meta.url).pathname;
const FIXTURE = new URL("../tests/fixtures/circuits/", import.meta.url).pathname;

async function runCircuits(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CIRCUITS, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("circuits CLI: ranks planted heads first and writes circuit.json and circuit.svg", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-circuits-" });
  try {
    const examples = 16;
    const heads = 4;
    const d = 8;
    const data = new Float32Array(examples * heads * d);
    const labels = new Float32Array(examples);
    for (let e = 0; e < examples; e++) {
      labels[e] = e % 2 === 0 ? 1 : 0;
      for (let h = 0; h < heads; h++) {
        // Head 2 is the circuit: its direction depends on the label; the others do not.
        const k = h === 2 ? (labels[e] ? 3 : 5) : h + 7;
        for (let c = 0; c < d; c++) {
          data[(e * heads + h) * d + c] = Math.sin((k + 1) * (c + 1)) * (1 + 0.01 * e);
        }
      }
    }
    await Deno.writeFile(`${dir}/heads.npy`, encodeNpy(data, [examples, heads, d]));
    await Deno.writeFile(`${dir}/labels.npy`, encodeNpy(labels, [examples]));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./circuits.ts", import.meta.url).pathname,
        "--data",
        `${dir}/heads.npy`,
        "--labels",
        `${dir}/labels.npy`,
        "--names",
        "L0H0,L0H1,L1H0,L1H1",
        "--ground-truth",
        "2",
        "--latents",
        "16",
        "--epochs",
        "200",
        "--lr",
        "0.005",
        "--out",
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(stdout.split("\n")[1], /^\s+1\s+L1H0\b/);
    assert.match(stdout, /ROC AUC: node 1\.000/);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/circuit.json`));
    assert.equal(json.heads[0].name, "L1H0");
    const svg = await Deno.readTextFile(`${dir}/circuit.svg`);
    assert.ok(svg.startsWith("<svg") && (svg.match(/<rect class="cell"/g) ?? []).length === 4);
    assert.deepEqual(json.warnings, []);
    assert.doesNotMatch(new TextDecoder().decode(out.stderr), /warning/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("circuits CLI: the induction fixture gives no warning and a self-explaining SVG", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-circuits-" });
  try {
    const meta = JSON.parse(await Deno.readTextFile(`${FIXTURE}meta.json`));
    const out = await runCircuits([
      "--data",
      `${FIXTURE}head_outputs.npy`,
      "--labels",
      `${FIXTURE}labels.npy`,
      "--names",
      meta.head_names.join(","),
      "--ground-truth",
      meta.ground_truth.join(","),
      "--out",
      dir,
    ]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stderr, "");
    const json = JSON.parse(await Deno.readTextFile(`${dir}/circuit.json`));
    assert.deepEqual(json.warnings, []);
    const svg = await Deno.readTextFile(`${dir}/circuit.svg`);
    assert.match(svg, />Circuit discovery: node score per head</);
    assert.match(svg, />80 examples \(40 task\), 8 heads, d_model 64; .*node ROC AUC 0\.833</);
    assert.equal(svg.match(/class="scale-value">[\d.]+</g)?.length, 5);
    const top = [...svg.matchAll(/class="top-head">#\d (L\dH\d): /g)].map((m) => m[1]);
    assert.deepEqual(top, json.heads.slice(0, 5).map((h: { name: string }) => h.name));
    assert.doesNotMatch(svg, /warning/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("circuits CLI: unpaired examples give a warning line on stderr and in circuit.json", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-circuits-" });
  try {
    // 20 task then 20 corrupted examples x 8 heads x 16: heads 2 and 5 carry the label; every
    // other head is fresh noise per example, so no corrupted example repeats a task example.
    const [perClass, heads, d] = [20, 8, 16];
    const normal = gaussian(seededRandom(2));
    const data = new Float32Array(2 * perClass * heads * d);
    const labels = new Float32Array(2 * perClass);
    for (let e = 0; e < 2 * perClass; e++) {
      labels[e] = e < perClass ? 1 : 0;
      for (let h = 0; h < heads; h++) {
        for (let c = 0; c < d; c++) {
          const k = labels[e] ? h : h + 20;
          data[(e * heads + h) * d + c] = h === 2 || h === 5
            ? 2 * Math.sin((k + 1) * (c + 1) * 0.7) + 0.1 * normal()
            : normal();
        }
      }
    }
    await Deno.writeFile(`${dir}/heads.npy`, encodeNpy(data, [2 * perClass, heads, d]));
    await Deno.writeFile(`${dir}/labels.npy`, encodeNpy(labels, [2 * perClass]));
    const out = await runCircuits([
      "--data",
      `${dir}/heads.npy`,
      "--labels",
      `${dir}/labels.npy`,
      "--ground-truth",
      "2,5",
      "--seed",
      "2",
      "--out",
      dir,
    ]);
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stderr.trimEnd().split("\n");
    assert.ok(lines.every((l) => l.startsWith("warning: ")), out.stderr);
    assert.match(lines[0], /^warning: labels and data look unpaired: /);
    assert.match(out.stderr, /ground-truth heads rank at node ROC AUC 0\.000/);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/circuit.json`));
    assert.equal(json.warnings.length, lines.length);
    assert.match(await Deno.readTextFile(`${dir}/circuit.svg`), /warning: labels and data look/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("circuits CLI: a non-finite head output is one error line naming the example and head", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-circuits-" });
  try {
    const data = new Float32Array(4 * 3 * 2).map((_, i) => Math.sin(i));
    data[2 * 6 + 1 * 2 + 1] = NaN;
    await Deno.writeFile(`${dir}/x.npy`, encodeNpy(data, [4, 3, 2]));
    await Deno.writeFile(`${dir}/y.npy`, encodeNpy(Float32Array.of(1, 0, 1, 0), [4]));
    const r = await runCircuits([
      "--data",
      `${dir}/x.npy`,
      "--labels",
      `${dir}/y.npy`,
      "--out",
      `${dir}/out`,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /x\.npy: non-finite value in example 2, head 1\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("circuits CLI: a diverging run is one error line naming --lr, and writes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-circuits-" });
  try {
    const r = await runCircuits([
      "--data",
      `${FIXTURE}head_outputs.npy`,
      "--labels",
      `${FIXTURE}labels.npy`,
      "--lr",
      "1e9",
      "--epochs",
      "50",
      "--out",
      `${dir}/out`,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: training diverged \(.*\); lower --lr \(it was 1\.00e\+9\)\n$/);
    assert.equal(r.stdout, "");
    assert.deepEqual([...Deno.readDirSync(`${dir}/out`)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("circuits CLI: options out of range are refused as the HTTP API refuses them", async () => {
  const fixture = ["--data", `${FIXTURE}head_outputs.npy`, "--labels", `${FIXTURE}labels.npy`];
  const dir = await Deno.makeTempDir({ prefix: "saeserve-circuits-" });
  try {
    const cases: [string[], RegExp][] = [
      [["--train-examples", "1000"], /^error: --train-examples 1000 is more than the 80 examples /],
      [["--train-examples", "1"], /^error: --train-examples must be an integer of at least 2/],
      [["--latents", "1"], /^error: --latents must be an integer of at least 2, not 1/],
      [["--l1", "-0.5"], /^error: --l1 must be a number >= 0/],
    ];
    for (const [args, pattern] of cases) {
      const r = await runCircuits([...fixture, ...args, "--out", dir]);
      assert.equal(r.code, 2, `${args}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stdout, "", `${args}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("circuits CLI: an --out that cannot be a folder is refused before any work", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-circuits-" });
  try {
    await Deno.writeTextFile(`${dir}/taken`, "a file, not a folder\n");
    for (const out of [`${dir}/taken`, `${dir}/taken/sub`]) {
      const r = await runCircuits([
        "--data",
        `${FIXTURE}head_outputs.npy`,
        "--labels",
        `${FIXTURE}labels.npy`,
        "--out",
        out,
      ]);
      assert.equal(r.code, 1, r.stderr);
      const escaped = out.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      assert.match(r.stderr, new RegExp(`^error: --out ${escaped}: cannot create it \\(.+\\)\n$`));
      assert.equal(r.stdout, "", "no ranking: nothing was computed"); // it used to train first
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
