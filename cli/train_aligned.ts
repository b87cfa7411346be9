/**
 * `deno task train-aligned --stream NAME=PATH ... --out DIR_OR_URL --latents N --k K
 * [--topk global|local] [--cross 1.0] [--auxk 64] [--steps S] [--batch 256] [--lr 1e-4]
 * [--seed 0] [--dead-after 1000]`: train an aligned (SPARC) dictionary on paired rows (row r of
 * every stream is the same item; .npy files, local or in a store) and write its folder.
 * @module
 */

import { parseArgs } from "node:util";
import { alignedFiles } from "../domain/features/aligned.ts";
import { readRange } from "../domain/io/byte_source.ts";
import { type Matrix, matrix } from "../domain/sae/matrix.ts";
import { decodeNpy } from "../domain/io/npy.ts";
import { trainAligned } from "../domain/train/aligned_trainer.ts";
import { locate } from "./train.ts";
import { wasmBackend } from "../backends/wasm/mod.ts";

function fail(message: string): never {
  console.error(`train-aligned: ${message}`);
  Deno.exit(2);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      stream: { type: "string", multiple: true },
      out: { type: "string" },
      latents: { type: "string" },
      k: { type: "string" },
      topk: { type: "string", default: "global" },
      cross: { type: "string", default: "1.0" },
      auxk: { type: "string", default: "64" },
      steps: { type: "string", default: "1000" },
      batch: { type: "string", default: "256" },
      lr: { type: "string", default: "0.0001" },
      seed: { type: "string", default: "0" },
      "dead-after": { type: "string", default: "1000" },
    },
    strict: true,
  });
  if (!values.stream?.length || !values.out || !values.latents || !values.k) {
    fail("--stream NAME=PATH (one per stream), --out, --latents and --k are required");
  }
  if (values.topk !== "global" && values.topk !== "local") fail("--topk must be global or local");
  const env = Deno.env.toObject();
  const data = new Map<string, Matrix>();
  for (const spec of values.stream!) {
    const at = spec.indexOf("=");
    if (at < 1) fail(`--stream wants NAME=PATH, not ${spec}`);
    const { store, path } = locate(spec.slice(at + 1), env);
    const source = await store.open(path);
    const t = decodeNpy(await readRange(source, 0, source.size));
    if (t.shape.length !== 2) fail(`${spec}: rows must be 2-D`);
    data.set(spec.slice(0, at), matrix(t.shape[0], t.shape[1], t.data));
  }
  const rows = [...data.values()][0].rows;
  if ([...data.values()].some((m) => m.rows !== rows)) {
    fail("every stream needs the same number of rows (paired items)");
  }
  let s = Number(values.seed) >>> 0 || 1;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
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
  const backend = await wasmBackend();
  try {
    const steps = Number(values.steps);
    const { dictionary, loss } = await trainAligned(source, {
      backend,
      latents: Number(values.latents),
      k: Number(values.k),
      topk: values.topk,
      cross: Number(values.cross),
      auxk: Number(values.auxk),
      steps,
      batch: Number(values.batch),
      lr: Number(values.lr),
      seed: Number(values.seed),
      deadAfterSteps: Number(values["dead-after"]),
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
    const out = values.out!;
    const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(out) && !out.startsWith("file://");
    const target = locate(out, env);
    for (const [name, bytes] of files) {
      if (isUrl) {
        if (!target.store.put) fail(`${target.store.describe} is read-only`);
        await target.store.put(target.path ? `${target.path}/${name}` : name, bytes);
      } else {
        const dir = out.replace(/^file:\/\//, "");
        await Deno.mkdir(dir, { recursive: true });
        await Deno.writeFile(`${dir}/${name}`, bytes);
      }
    }
    console.error(`train-aligned: wrote ${out} (final loss ${loss.toFixed(4)})`);
  } finally {
    backend.close();
  }
}

if (import.meta.main) await main();
