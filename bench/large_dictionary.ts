/**
 * The largest dictionaries on one node: writes synthetic SAELens TopK dictionaries (Gemma Scope
 * 2B width, 2304 inputs; 262144 latents by default) as bf16 safetensors into a temporary store,
 * starts the service on it (SAESERVE_WEIGHTS=bf16 by default) and measures the cold load, the
 * resident memory before and after (and its peak), and the latency of 1-row encodes. The files
 * are streamed out row block by row block, so writing never holds a whole matrix.
 *
 *   deno run -A bench/large_dictionary.ts [--d-sae 16384,65536,262144] [--weights bf16]
 * @module
 */

import { parseOptions } from "../cli/args.ts";
import { runCli } from "../cli/run.ts";
import { f32ToBf16 } from "../domain/io/dtype.ts";
import { gaussianArray } from "../domain/random.ts";
import { memoryOf, startService } from "../tests/service_process.ts";

const SPEC = {
  name: "bench-large-dictionary",
  summary: "Cold load, resident memory and 1-row latency of large synthetic dictionaries.",
  options: {
    "d-sae": { type: "list", default: "262144", description: "Latent counts to measure." },
    "d-in": { type: "integer", positive: true, default: 2304, description: "Input width." },
    "file-dtype": {
      type: "string",
      choices: ["bf16", "f32"],
      default: "bf16",
      description: "Element type of the safetensors file.",
    },
    weights: {
      type: "string",
      choices: ["f32", "bf16", "f16"],
      default: "bf16",
      description: "SAESERVE_WEIGHTS of the service (in-memory precision).",
    },
    requests: {
      type: "integer",
      positive: true,
      default: 30,
      description: "Warm 1-row encodes to time.",
    },
    dir: { type: "string", description: "Store folder (default: a new temporary folder)." },
  },
} as const;

/** One dictionary size's figures. */
export interface LargeFigures {
  readonly dSae: number;
  readonly fileBytes: number;
  readonly writeSeconds: number;
  readonly loadSeconds: number;
  readonly firstRequestSeconds: number;
  readonly idleRss: number;
  readonly loadedRss: number;
  readonly peakRss: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const ROW_BLOCK = 64;

/** Write `dir/name/` (cfg.json + sae_weights.safetensors) block by block; returns the file size. */
export async function writeLargeTopK(
  dir: string,
  options: { name: string; dIn: number; dSae: number; dtype: "bf16" | "f32"; k?: number },
): Promise<number> {
  const { name, dIn, dSae, dtype, k = 64 } = options;
  const size = dtype === "bf16" ? 2 : 4;
  const tensors: [string, number[]][] = [
    ["W_enc", [dIn, dSae]],
    ["W_dec", [dSae, dIn]],
    ["b_enc", [dSae]],
    ["b_dec", [dIn]],
  ];
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [tensor, shape] of tensors) {
    const bytes = shape.reduce((a, b) => a * b, 1) * size;
    header[tensor] = {
      dtype: dtype === "bf16" ? "BF16" : "F32",
      shape,
      data_offsets: [offset, offset + bytes],
    };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  await Deno.mkdir(`${dir}/${name}`, { recursive: true });
  const file = await Deno.open(`${dir}/${name}/sae_weights.safetensors`, {
    write: true,
    create: true,
    truncate: true,
  });
  try {
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(json.length), true);
    await writeAll(file, prefix);
    await writeAll(file, new TextEncoder().encode(json));
    let seed = 1;
    for (const [tensor, shape] of tensors) {
      const cols = shape.length === 2 ? shape[1] : shape[0];
      const rows = shape.length === 2 ? shape[0] : 1;
      const scale = tensor === "W_enc" ? 0.02 : tensor === "W_dec" ? 0.02 : 0.01;
      for (let r = 0; r < rows; r += ROW_BLOCK) {
        const n = Math.min(ROW_BLOCK, rows - r) * cols;
        const values = tensor === "b_dec" ? new Float32Array(n) : gaussianArray(n, seed++);
        await writeAll(file, encodeBlock(values, { scale, dtype }));
      }
    }
  } finally {
    file.close();
  }
  await Deno.writeTextFile(
    `${dir}/${name}/cfg.json`,
    JSON.stringify({
      architecture: "topk",
      d_in: dIn,
      d_sae: dSae,
      k,
      dtype: dtype === "bf16" ? "bfloat16" : "float32",
      apply_b_dec_to_input: false,
    }),
  );
  return 8 + json.length + offset;
}

function encodeBlock(
  values: Float32Array,
  options: { scale: number; dtype: "bf16" | "f32" },
): Uint8Array {
  for (let i = 0; i < values.length; i++) values[i] *= options.scale;
  if (options.dtype === "f32") return new Uint8Array(values.buffer);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToBf16(values[i]);
  return new Uint8Array(out.buffer);
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await file.write(bytes.subarray(done));
}

/** The sum of saeserve_dictionary_load_seconds in a /metrics text. */
function loadSecondsOf(metrics: string): number {
  return Number(/\nsaeserve_dictionary_load_seconds_sum (\S+)/.exec(metrics)?.[1] ?? NaN);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Measure one size: write it, serve it, load it cold, time warm 1-row encodes. */
export async function measureLarge(
  dir: string,
  options: { dIn: number; dSae: number; dtype: "bf16" | "f32"; weights: string; requests: number },
): Promise<LargeFigures> {
  const { dIn, dSae, requests } = options;
  const name = `large_${dSae}`;
  const started = performance.now();
  const fileBytes = await writeLargeTopK(dir, { name, dIn, dSae, dtype: options.dtype });
  const writeSeconds = (performance.now() - started) / 1000;
  const service = await startService({
    SAESERVE_STORE: `file://${dir}`,
    SAESERVE_BACKEND: "wasm",
    SAESERVE_WEIGHTS: options.weights,
    SAESERVE_MEMORY_BUDGET: String(Math.floor(Deno.systemMemoryInfo().total * 0.8)),
    SAESERVE_REQUEST_TIMEOUT_MS: "0",
    SAESERVE_LOG: "off",
  });
  try {
    await new Promise((r) => setTimeout(r, 500));
    const idleRss = memoryOf(service.pid).rss;
    const row = JSON.stringify({ activations: [Array.from(gaussianArray(dIn, 7), (x) => x * 3)] });
    const encode = async (): Promise<number> => {
      const t = performance.now();
      const r = await fetch(`${service.url}/v1/dictionaries/${name}/encode`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: row,
      });
      const text = await r.text();
      if (r.status !== 200) throw new Error(`encode ${r.status}: ${text.slice(0, 300)}`);
      return performance.now() - t;
    };
    const firstRequestSeconds = (await encode()) / 1000;
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    const times: number[] = [];
    for (let i = 0; i < requests; i++) times.push(await encode());
    times.sort((a, b) => a - b);
    const mem = memoryOf(service.pid);
    return {
      dSae,
      fileBytes,
      writeSeconds,
      loadSeconds: loadSecondsOf(metrics),
      firstRequestSeconds,
      idleRss,
      loadedRss: mem.rss,
      peakRss: mem.peak,
      p50Ms: percentile(times, 0.5),
      p99Ms: percentile(times, 0.99),
    };
  } finally {
    await service.stop();
    await Deno.remove(`${dir}/${name}`, { recursive: true });
  }
}

const GB = 1e9;

/** One markdown table row of `f`. */
export function tableRow(f: LargeFigures): string {
  const cells = [
    f.dSae,
    (f.fileBytes / GB).toFixed(2),
    f.loadSeconds.toFixed(1),
    f.firstRequestSeconds.toFixed(1),
    (f.idleRss / GB).toFixed(2),
    (f.loadedRss / GB).toFixed(2),
    (f.peakRss / GB).toFixed(2),
    f.p50Ms.toFixed(1),
    f.p99Ms.toFixed(1),
  ];
  return `| ${cells.join(" | ")} |`;
}

if (import.meta.main) {
  await runCli(SPEC.name, async () => {
    const o = parseOptions(SPEC, Deno.args);
    const dir = o.dir ?? await Deno.makeTempDir({ prefix: "saeserve-large-" });
    console.log(`store ${dir}; file ${o["file-dtype"]}, SAESERVE_WEIGHTS=${o.weights}`);
    console.log(
      "| d_sae | file GB | load s | first request s | idle RSS GB | loaded RSS GB | peak RSS GB " +
        "| 1-row p50 ms | 1-row p99 ms |",
    );
    console.log("|---|---|---|---|---|---|---|---|---|");
    try {
      for (const d of o["d-sae"]) {
        const dSae = Number(d);
        const f = await measureLarge(dir, {
          dIn: o["d-in"],
          dSae,
          dtype: o["file-dtype"],
          weights: o.weights,
          requests: o.requests,
        });
        console.log(tableRow(f));
        console.error(JSON.stringify(f));
      }
    } finally {
      if (!o.dir) await Deno.remove(dir, { recursive: true });
    }
  });
}
