/**
 * Resident memory of the service per weight precision: writes synthetic SAELens TopK
 * dictionaries (2304 inputs; 16384 and 65536 latents by default) once, as f32 safetensors the
 * way users' files are, then for each precision (f32, bf16, f16, int8) and size starts the
 * service (main.ts, SAESERVE_BACKEND=wasm, a file store) as a child process, loads the
 * dictionary with its first encode, serves 1-row encodes and 256-row batches (.npy and JSON
 * bodies) over one keep-alive connection, and reads the child's /proc status and smaps; then
 * once more after the client has closed that connection (Deno's HTTP/1.1 server keeps a
 * connection's read buffer at the size of the largest body it carried until it closes).
 *
 * "Stored weight bytes" = the bytes of the dictionary's weights in the precision the service
 * holds them: W_enc and W_dec in that precision plus the f32 biases; for int8, the f32 encoder
 * panels and decoder (which rescore and decode exactly) plus the int8 encoder and its
 * per-column terms. The ratio against the f32 file's bytes is printed beside it.
 *
 *   flock /tmp/bench.lock deno run -A bench/memory_by_precision.ts \
 *     [--d-sae 16384,65536] [--weights f32,bf16,f16,int8] [--batches 3] [--v8-flags ...]
 * @module
 */

import { parseOptions } from "../cli/args.ts";
import { runCli } from "../cli/run.ts";
import { encodeNpy } from "../domain/io/npy.ts";
import { gaussianArray } from "../domain/random.ts";
import { writeLargeTopK } from "./large_dictionary.ts";
import { startService } from "../tests/service_process.ts";

const SPEC = {
  name: "bench-memory-by-precision",
  summary: "Resident memory after loading and serving, per weight precision and size.",
  options: {
    "d-sae": { type: "list", default: "16384,65536", description: "Latent counts to measure." },
    "d-in": { type: "integer", positive: true, default: 2304, description: "Input width." },
    weights: {
      type: "list",
      choices: ["f32", "bf16", "f16", "int8"],
      default: "f32,bf16,f16,int8",
      description: "SAESERVE_WEIGHTS values to measure.",
    },
    singles: { type: "integer", positive: true, default: 20, description: "1-row encodes." },
    batches: {
      type: "integer",
      positive: true,
      default: 2,
      description: "256-row encodes per body type (.npy, JSON).",
    },
    threads: { type: "integer", positive: true, description: "SAESERVE_THREADS (default: cores)." },
    "v8-flags": {
      type: "string",
      default: "--expose-gc",
      description: "--v8-flags of the service process (as in deno task start).",
    },
    env: {
      type: "string",
      multiple: true,
      description: "KEY=VALUE added to the service's environment (repeatable).",
    },
    dir: { type: "string", description: "Store folder (default: a new temporary folder)." },
  },
} as const;

/** Bytes the kernels' WebAssembly.Memory reserves (its maximum of 65536 pages, backends/wasm/mod.ts). */
const WASM_RESERVATION = 65536 * 65536;

/** A process's memory, in bytes. */
export interface MemoryReading {
  /** VmRSS: resident now. */
  readonly rss: number;
  /** VmHWM: the peak of VmRSS. */
  readonly peak: number;
  /** RssAnon and RssFile (the runtime's mapped binary and caches). */
  readonly anon: number;
  readonly file: number;
  /** Resident pages of the kernels' WebAssembly.Memory (0 when not found). */
  readonly wasm: number;
}

/**
 * Read process `pid`'s memory (Linux /proc). The WebAssembly.Memory is the run of anonymous
 * read-write mappings followed by the inaccessible rest of its reservation, 4 GiB in all.
 */
export function readMemory(pid: number): MemoryReading {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) =>
    Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  const maps: { start: number; end: number; perms: string; named: boolean; rss: number }[] = [];
  for (const line of Deno.readTextFileSync(`/proc/${pid}/smaps`).split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const [start, end] = [parseInt(head[1], 16), parseInt(head[2], 16)];
      maps.push({ start, end, perms: head[3], named: head[4] !== "", rss: 0 });
    } else if (line.startsWith("Rss:")) {
      maps[maps.length - 1].rss = Number(/(\d+) kB/.exec(line)![1]) * 1024;
    }
  }
  let wasm = 0;
  for (let i = 1; i < maps.length; i++) {
    if (maps[i].perms !== "---p" || maps[i].named) continue;
    let rss = 0;
    for (let j = i - 1; j >= 0; j--) {
      const m = maps[j];
      if (m.perms !== "rw-p" || m.named || m.end !== maps[j + 1].start) break;
      rss += m.rss;
      if (maps[i].end - m.start === WASM_RESERVATION) wasm = Math.max(wasm, rss);
    }
  }
  return { rss: kb("VmRSS"), peak: kb("VmHWM"), anon: kb("RssAnon"), file: kb("RssFile"), wasm };
}

const K = 64;
const BATCH = 256;
const MIB = 2 ** 20;

/** Bytes of the weights as the service holds them (see the module comment). */
export function heldWeightBytes(precision: string, shape: { dIn: number; dSae: number }): number {
  const { dIn, dSae } = shape;
  const n = dIn * dSae;
  const biases = 4 * (dIn + dSae);
  if (precision === "int8") {
    // f32 panels + f32 decoder + int8 encoder (depth padded to 4) + 16 bytes per column.
    return 8 * n + Math.ceil(dIn / 4) * 4 * dSae + 16 * dSae + biases;
  }
  return 2 * n * (precision === "f32" ? 4 : 2) + biases;
}

/** One precision and size, measured in its own service process. */
export interface MemoryFigures {
  readonly precision: string;
  readonly dSae: number;
  /** Stored weight bytes (see the module comment) and the f32 file's bytes. */
  readonly held: number;
  readonly fileBytes: number;
  /** Before the load, after the load and 1-row encodes, after the 256-row batches too. */
  readonly idle: MemoryReading;
  readonly afterSingles: MemoryReading;
  readonly afterBatches: MemoryReading;
  /** After the batches, once the client has closed its connection. */
  readonly afterClose: MemoryReading;
}

/** One encode of `rows` Gaussian rows of width `dIn`, as JSON or .npy. */
async function encode(
  url: string,
  name: string,
  body: { rows: number; dIn: number; json: boolean; client: Deno.HttpClient },
): Promise<void> {
  const { rows, dIn, client } = body;
  const x = gaussianArray(rows * dIn, 7 + rows);
  for (let i = 0; i < x.length; i++) x[i] *= 3;
  const init: RequestInit = body.json
    ? {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        activations: Array.from(
          { length: rows },
          (_, r) => Array.from(x.subarray(r * dIn, (r + 1) * dIn)),
        ),
        top: K,
      }),
    }
    : {
      method: "POST",
      headers: { "content-type": "application/x-npy" },
      body: encodeNpy(x, [rows, dIn]),
    };
  const query = body.json ? "" : `?top=${K}`; // a JSON request carries its options in the body
  const res = await fetch(`${url}/v1/dictionaries/${name}/encode${query}`, { ...init, client });
  const answer = await res.arrayBuffer();
  if (res.status !== 200) {
    throw new Error(`encode answered ${res.status}: ${new TextDecoder().decode(answer)}`);
  }
}

/**
 * Wait until the child's memory settles: past the registry's idle collection (1 s after the
 * last request), then until two readings 250 ms apart differ by less than 1 MiB.
 */
async function settle(pid: number): Promise<MemoryReading> {
  await new Promise((r) => setTimeout(r, 2000));
  let last = readMemory(pid);
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const now = readMemory(pid);
    if (Math.abs(now.rss - last.rss) < MIB) return now;
    last = now;
  }
  return last;
}

/** How one service process is started and driven. */
export interface MeasureOptions {
  readonly name: string;
  readonly precision: string;
  readonly dIn: number;
  readonly dSae: number;
  readonly fileBytes: number;
  readonly singles: number;
  readonly batches: number;
  readonly threads?: number;
  readonly v8Flags: string;
  /** KEY=VALUE pairs added to the service's environment. */
  readonly env: readonly string[];
}

/** Serve dictionary `options.name` of store `dir` and read the memory at each stage. */
export async function measureMemory(dir: string, options: MeasureOptions): Promise<MemoryFigures> {
  const { name, precision, dIn, dSae } = options;
  const env: Record<string, string> = {
    SAESERVE_STORE: `file://${dir}`,
    SAESERVE_BACKEND: "wasm",
    SAESERVE_WEIGHTS: precision,
    SAESERVE_MEMORY_BUDGET: String(Math.floor(Deno.systemMemoryInfo().total * 0.8)),
    SAESERVE_REQUEST_TIMEOUT_MS: "0",
    SAESERVE_LOG: "off",
  };
  if (options.threads) env.SAESERVE_THREADS = String(options.threads);
  for (const pair of options.env) {
    const at = pair.indexOf("=");
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const service = await startService(env, { v8Flags: options.v8Flags });
  const client = Deno.createHttpClient({});
  let closed = false;
  try {
    const idle = await settle(service.pid);
    for (let i = 0; i < options.singles; i++) {
      await encode(service.url, name, { rows: 1, dIn, json: true, client });
    }
    const afterSingles = await settle(service.pid);
    for (let i = 0; i < options.batches; i++) {
      await encode(service.url, name, { rows: BATCH, dIn, json: false, client });
      await encode(service.url, name, { rows: BATCH, dIn, json: true, client });
    }
    for (let i = 0; i < 5; i++) {
      await encode(service.url, name, { rows: 1, dIn, json: true, client });
    }
    const afterBatches = await settle(service.pid);
    closed = true;
    client.close();
    const afterClose = await settle(service.pid);
    const held = heldWeightBytes(precision, { dIn, dSae });
    return {
      precision,
      dSae,
      held,
      fileBytes: options.fileBytes,
      idle,
      afterSingles,
      afterBatches,
      afterClose,
    };
  } finally {
    if (!closed) client.close();
    await service.stop();
  }
}

/** Write `dir/name/` unless a weights file of the expected size is there; returns its size. */
async function dictionaryFile(dir: string, shape: { dIn: number; dSae: number }): Promise<number> {
  const { dIn, dSae } = shape;
  const name = `d${dSae}`;
  // Header (a few hundred bytes, padded to 8) + four f32 tensors.
  const data = 4 * (2 * dIn * dSae + dIn + dSae);
  const size = await Deno.stat(`${dir}/${name}/sae_weights.safetensors`)
    .then((s) => s.size, () => 0);
  if (size > data && size < data + 1024) return size;
  return await writeLargeTopK(dir, { name, dIn, dSae, dtype: "f32" });
}

const mib = (b: number) => (b / MIB).toFixed(0);
const x = (a: number, b: number) => (a / b).toFixed(2);

/** A markdown table row of `f`. */
export function tableRow(f: MemoryFigures): string {
  const s = f.afterSingles;
  const b = f.afterBatches;
  const cells = [
    f.precision,
    f.dSae,
    mib(f.held),
    mib(f.fileBytes),
    mib(f.idle.rss),
    mib(s.rss),
    x(s.rss, f.held),
    x(s.rss, f.fileBytes),
    mib(b.rss),
    x(b.rss, f.held),
    x(b.rss, f.fileBytes),
    `${mib(f.afterClose.rss)} (${x(f.afterClose.rss, f.held)})`,
    `${mib(b.peak)} (${x(b.peak, f.held)})`,
    `${mib(b.wasm)} / ${mib(b.anon - b.wasm)} / ${mib(b.file)}`,
  ];
  return `| ${cells.join(" | ")} |`;
}

const HEADER = [
  "| weights | d_sae | stored MiB | f32 file MiB | idle RSS MiB | RSS after 1-row MiB " +
  "| / stored | / file | RSS after 256-row MiB | / stored | / file " +
  "| connection closed MiB (/ stored) | peak MiB (/ stored) " +
  "| after 256-row: WASM / other anon / file-backed MiB |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
];

/** Which runs stay within `limit` x the stored bytes, after 1-row and after 256-row requests. */
function verdict(all: readonly MemoryFigures[], limit: number): string[] {
  const within = (r: MemoryReading, f: MemoryFigures) => r.rss <= limit * f.held ? "yes" : "no";
  return all.map((f) =>
    `${f.precision} ${f.dSae}: within ${limit} x after 1-row ${within(f.afterSingles, f)}, ` +
    `after 256-row ${within(f.afterBatches, f)}, connection closed ${within(f.afterClose, f)}`
  );
}

if (import.meta.main) {
  await runCli(SPEC.name, async () => {
    const o = parseOptions(SPEC, Deno.args);
    const dIn = o["d-in"];
    const dir = o.dir ?? await Deno.makeTempDir({ prefix: "saeserve-memory-" });
    const sizes = o["d-sae"].map(Number);
    console.log(
      `d_in ${dIn}, TopK k ${K}; store ${dir} (f32 safetensors); ` +
        `${o.threads ?? navigator.hardwareConcurrency} kernel threads; --v8-flags=${o["v8-flags"]}${
          o.env.length ? `; environment ${o.env.join(" ")}` : ""
        }`,
    );
    console.log(
      "stored = bytes of the weights in the precision the service holds them (W_enc, W_dec, " +
        "f32 biases; int8: f32 encoder panels and decoder + int8 encoder + 16 B per latent); " +
        "file = the f32 safetensors file. RSS = VmRSS, peak = VmHWM of the service process; " +
        "WASM = resident pages of the kernels' WebAssembly.Memory (from smaps).",
    );
    try {
      const files = new Map<number, number>();
      for (const dSae of sizes) files.set(dSae, await dictionaryFile(dir, { dIn, dSae }));
      for (const line of HEADER) console.log(line);
      const all: MemoryFigures[] = [];
      for (const precision of o.weights) {
        for (const dSae of sizes) {
          const f = await measureMemory(dir, {
            name: `d${dSae}`,
            precision,
            dIn,
            dSae,
            fileBytes: files.get(dSae)!,
            singles: o.singles,
            batches: o.batches,
            threads: o.threads,
            v8Flags: o["v8-flags"],
            env: o.env,
          });
          all.push(f);
          console.log(tableRow(f));
          console.error(JSON.stringify(f));
        }
      }
      const idle = all.map((f) => f.idle.rss).sort((a, b) => a - b);
      const mid = idle[Math.floor(idle.length / 2)];
      const one = all[0]?.idle;
      console.log(
        `\nfixed cost: an idle service with no dictionary loaded holds ${mib(mid)} MiB ` +
          `(median of ${idle.length} starts, ${mib(idle[0])}-${mib(idle[idle.length - 1])}); ` +
          (one
            ? `first start: ${mib(one.anon)} MiB anonymous, ${mib(one.file)} MiB file-backed`
            : ""),
      );
      for (const line of verdict(all, 1.3)) console.log(line);
    } finally {
      if (!o.dir) await Deno.remove(dir, { recursive: true });
    }
  });
}
