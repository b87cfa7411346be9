/**
 * `deno task circuits` end to end on a small planted .npy pair: ranked table on stdout,
 * circuit.json and the head x layer SVG written.
 * @module
 */

import assert from "node:assert/strict";
import { encodeNpy } from "../domain/io/npy.ts";
import { scoreGridSvg } from "./circuits.ts";

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
    assert.ok(svg.startsWith("<svg") && (svg.match(/<rect /g) ?? []).length === 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("circuits CLI: the score grid places heads by their LxHy names", () => {
  const svg = scoreGridSvg([0.1, 0.9], ["L0H1", "L2H0"]);
  assert.match(svg, /<title>L2H0: 0\.9000<\/title>/);
  assert.match(svg, />L2</);
});
