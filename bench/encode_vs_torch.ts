/**
 * saeserve's WASM encode over HTTP against PyTorch f32 CPU encode in-process, side by side in
 * one run, on a 2304 x 16384 TopK (k = 64) dictionary (the size of Gemma Scope 2B 16k).
 *
 * For each weight precision the service is started as its own process (`main.ts`,
 * SAESERVE_BACKEND=wasm) over a temporary SAELens folder; requests carry .npy bodies and ask for
 * .npz answers (Accept: application/x-npz), the fastest documented forms both ways.
 * Reported: median latency, rows/s, GFLOP/s, the ratio to torch, GB/s of weights streamed at
 * one row against this machine's copy bandwidth, and the service's resident memory after the
 * load (VmRSS) and at its peak (VmHWM) against the weights' bytes.
 *
 * Run: npx -y deno@2.9.6 task bench (torch comes from Debian's python3-torch; without it the
 * torch column is skipped). Options: BENCH_ROWS=1,16,64,256 BENCH_SECONDS=3 BENCH_WARMUP_SECONDS=3
 * BENCH_WARMUP_CALLS=4000 BENCH_WARMUP_MAX_SECONDS=20
 * BENCH_RUNS=wasm/f32,wasm/bf16,wasm/int8,webgpu/f32 BENCH_D_IN=2304 BENCH_D_SAE=16384;
 * BENCH_IN_PROCESS=1 also times each WASM precision's encode in this process (the same rows,
 * no HTTP, no micro-batching): what the service adds on top of the kernels; BENCH_BATCHING=0
 * starts the service without micro-batching (whose wait for company a lone request pays);
 * BENCH_INTERLEAVE=8 then also alternates blocks of saeserve and torch (see {@link INTERLEAVE} and bench/interleave.ts),
 * saeserve's sent by this process's fetch, by saeserve's TypeScript client on its own HTTP/1.1
 * sockets (clients/ts/http1.ts: a Deno or Node user's view), by wrk where installed (BENCH_WRK=0:
 * not) and by saeserve's Python client inside torch's own process (a torch user's view).
 * On a software WebGPU adapter (llvmpipe) the webgpu run is informative only and measures up to
 * 16 rows.
 * @module
 */

import { encodeNpy } from "../domain/io/npy.ts";
import type { SaeWeights } from "../domain/sae/dictionary.ts";
import { matrix } from "../domain/sae/matrix.ts";
import type { Precision } from "../domain/precision.ts";
import { wasmBackend } from "../backends/wasm/mod.ts";
import { scaledGaussian, writeTopKDictionary } from "./synthetic_dictionary.ts";
import { gaussianArray } from "../domain/random.ts";
import { memoryOf, type RunningService, startService } from "../tests/service_process.ts";
import { wrkBlocks } from "./wrk_blocks.ts";
import { Client } from "../clients/ts/mod.ts";
import { type Http1Fetch, http1Fetch } from "../clients/ts/http1.ts";
import { block, interleaved, median, type Side, timed } from "./interleave.ts";
import { type Row, torchBlocks, torchRows, type TorchShape } from "./torch_peer.ts";

const D_IN = Number(Deno.env.get("BENCH_D_IN") ?? 2304);
const D_SAE = Number(Deno.env.get("BENCH_D_SAE") ?? 16384);
const K = 64;
const ROWS = (Deno.env.get("BENCH_ROWS") ?? "1,16,64,256").split(",").map(Number);
const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 3);
/**
 * Calls before timing: at least this many seconds (and 3 calls), torch's warm-up too.
 */
const WARMUP = Number(Deno.env.get("BENCH_WARMUP_SECONDS") ?? 3);
/**
 * ... and at least this many calls, within BENCH_WARMUP_MAX_SECONDS (default 20): V8 compiles a
 * function called once per request with TurboFan only after ~3000 calls, so a service that has
 * served that many requests (a live client steering token by token does within minutes) answers
 * one row 0.3-0.7 ms faster over HTTP than one 3 s old.
 */
const WARMUP_CALLS = Number(Deno.env.get("BENCH_WARMUP_CALLS") ?? 4000);
const WARMUP_MAX = Number(Deno.env.get("BENCH_WARMUP_MAX_SECONDS") ?? 20);
/** Micro-batching in the service (BENCH_BATCHING=0 starts it with SAESERVE_BATCHING=0). */
const BATCHING = Deno.env.get("BENCH_BATCHING") !== "0";
/** Also time each WASM precision's encode in this process, without HTTP (BENCH_IN_PROCESS=1). */
const IN_PROCESS = Deno.env.get("BENCH_IN_PROCESS") === "1";
/**
 * Bytes the service stores for the weights: encoder and decoder in the precision, and for
 * int8 both in f32 plus an int8 copy of the encoder.
 */
function storedBytes(precision: string): number {
  if (precision === "int8") return 9 * D_IN * D_SAE;
  return 2 * D_IN * D_SAE * (precision === "f32" ? 4 : 2);
}

/** Encoder bytes one row streams (int8: its int8 copy; the rescored candidates come on top). */
function encoderBytes(precision: string): number {
  return D_IN * D_SAE * (precision === "f32" ? 4 : precision === "int8" ? 1 : 2);
}

/** Service configurations measured: backend/precision pairs. */
const RUNS = (Deno.env.get("BENCH_RUNS") ?? "wasm/f32,wasm/bf16,webgpu/f32").split(",").map(
  (run) => {
    const [backend, precision] = run.split("/");
    return { backend, precision: precision ?? "f32" };
  },
);
/** The torch peer's dictionary shape and Python (BENCH_PYTHON). */
const TORCH: TorchShape = {
  dIn: D_IN,
  dSae: D_SAE,
  k: K,
  python: Deno.env.get("BENCH_PYTHON") ?? "/usr/bin/python3",
};
/**
 * Rounds per batch size, after the figures above, that alternate a block of saeserve over HTTP
 * with a block of torch (bench/torch_encode.py --serve, kept running), BENCH_BLOCK_SECONDS
 * (default 1) each, the order swapped every round: the host's drift then reaches both sides of
 * each round's ratio alike (BENCH_INTERLEAVE, default 0: none).
 */
const INTERLEAVE = Number(Deno.env.get("BENCH_INTERLEAVE") ?? 0);
const BLOCK_SECONDS = Number(Deno.env.get("BENCH_BLOCK_SECONDS") ?? 1);
/**
 * Interleaved rounds also time saeserve with wrk (bench/wrk_blocks.ts: a lean HTTP/1.1 client,
 * without the cost of this process's fetch), when it is installed; BENCH_WRK=0 leaves it out.
 */
const WRK = Deno.env.get("BENCH_WRK") !== "0";

/** Copy bandwidth of this machine (one thread): bytes read + written per second. */
function copyBandwidth(): number {
  const n = 64 << 20; // 256 MiB of f32
  const a = new Float32Array(n).fill(1);
  const b = new Float32Array(n);
  b.set(a);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    b.set(a);
    times.push(performance.now() - t0);
  }
  return (2 * n * 4) / (median(times) / 1000);
}

function writeDictionary(dir: string): Promise<number> {
  return writeTopKDictionary(dir, { dIn: D_IN, dSae: D_SAE, k: K });
}

function service(
  dir: string,
  run: { backend: string; precision: string },
): Promise<RunningService> {
  return startService({
    SAESERVE_STORE: `file://${dir}`,
    SAESERVE_BACKEND: run.backend,
    SAESERVE_WEIGHTS: run.precision,
    ...(BATCHING ? {} : { SAESERVE_BATCHING: "0" }),
  });
}

/** The encode every request asks for, and its headers: an .npy body, an .npz answer. */
const ENCODE_PATH = `/v1/dictionaries/big/encode?top=${K}`;
const NPY_HEADERS = { "content-type": "application/x-npy", accept: "application/x-npz" };

/** The rows a batch size sends (the same in every run). */
const input = (rows: number) => gaussianArray(rows * D_IN, 100 + rows);

/** One encode of `rows` rows over HTTP: an .npy body, an .npz answer. */
function overHttp(url: string, rows: number): () => Promise<void> {
  const body = encodeNpy(input(rows), [rows, D_IN]);
  return async () => {
    const res = await fetch(`${url}${ENCODE_PATH}`, { method: "POST", headers: NPY_HEADERS, body });
    if (res.status !== 200) throw new Error(`encode answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  };
}

/** The same dictionary as writeTopKDictionary's, for the in-process backend. */
function inProcessWeights(): SaeWeights {
  const wEnc = scaledGaussian(D_IN * D_SAE, 1, { scale: 0.02 });
  const wDec = new Float32Array(D_SAE * D_IN);
  for (let i = 0; i < D_IN; i++) {
    for (let j = 0; j < D_SAE; j++) wDec[j * D_IN + i] = wEnc[i * D_SAE + j];
  }
  return {
    dIn: D_IN,
    dSae: D_SAE,
    wEnc: matrix([D_IN, D_SAE], wEnc),
    wDec: matrix([D_SAE, D_IN], wDec),
    bDec: new Float32Array(D_IN),
    preBias: null,
    activation: { kind: "topk", bEnc: scaledGaussian(D_SAE, 2, { scale: 0.01 }), k: K },
    normalization: "none",
    wSkip: null,
  };
}

/** The WASM backend's encode in this process (no HTTP, no batching): the kernels' share. */
async function inProcess(precision: Precision, rows: number[]): Promise<Row[]> {
  const backend = await wasmBackend({ weights: precision });
  try {
    const prepared = await backend.prepare(inProcessWeights());
    const out: Row[] = [];
    for (const n of rows) {
      const x = matrix([n, D_IN], input(n));
      out.push(await measure(n, async () => void await backend.encode(prepared, x, { top: K })));
    }
    return out;
  } finally {
    backend.close();
  }
}

async function measure(rows: number, once: () => Promise<void>): Promise<Row> {
  const start = performance.now();
  const warm = start + WARMUP * 1000;
  const cap = start + Math.max(WARMUP, WARMUP_MAX) * 1000;
  for (let i = 0;; i++) {
    const now = performance.now();
    if (i >= 3 && now >= warm && (i >= WARMUP_CALLS || now >= cap)) break;
    await once();
  }
  const ms = await timed(once, SECONDS);
  return {
    rows,
    medianMs: ms,
    rowsPerS: rows / (ms / 1000),
    gflops: (2 * rows * D_IN * D_SAE) / (ms / 1000) / 1e9,
  };
}

/** saeserve's side sent by this process's fetch: median ms after 3 untimed calls. */
function fetchSide(url: string, rows: number): Side {
  const once = overHttp(url, rows);
  return { client: "fetch", block: (seconds) => block(once, seconds) };
}

/** saeserve's side sent by the TypeScript client on `transport` (what its users get: one row as JSON, batches as .npz). */
function clientSide(url: string, rows: number, transport: Http1Fetch): Side {
  const client = new Client({ baseUrl: url, fetch: transport });
  const x = { data: input(rows), rows, cols: D_IN };
  const once = async () => void await client.encode("big", x, { top: K });
  return { client: "ts client", block: (seconds) => block(once, seconds) };
}

const fmt = (v: number, digits = 1) => v.toFixed(digits).padStart(9);

const dir = await Deno.makeTempDir({ prefix: "saeserve-bench-" });
try {
  console.log(
    `dictionary ${D_IN} x ${D_SAE} TopK k=${K}; ${navigator.hardwareConcurrency} cores; ` +
      `micro-batching ${BATCHING ? "on (default)" : "off (SAESERVE_BATCHING=0)"}`,
  );
  const fileBytes = await writeDictionary(dir);
  const copy = copyBandwidth();
  console.log(`copy bandwidth (1 thread, read+write): ${(copy / 1e9).toFixed(1)} GB/s`);
  const torch = torchRows(TORCH, { rows: ROWS, seconds: SECONDS, warmup: WARMUP });
  const torchBy = new Map(torch?.map((r) => [r.rows, r]) ?? []);
  if (torch) {
    console.log(
      `torch f32 in-process, ${navigator.hardwareConcurrency} threads (bench/torch_encode.py)`,
    );
  }
  const blocks = torch && INTERLEAVE > 0 ? torchBlocks(TORCH) : undefined;
  const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
  for (const run of RUNS) {
    const { precision } = run;
    const software = run.backend === "webgpu" && (!adapter || adapter.info.isFallbackAdapter);
    if (run.backend === "webgpu" && !adapter) {
      console.log("\nwebgpu skipped: no WebGPU adapter");
      continue;
    }
    const svc = await service(dir, run);
    const transport = http1Fetch();
    try {
      const results: Row[] = [];
      let loaded: { rss: number; peak: number } | undefined;
      for (const rows of software ? ROWS.filter((r) => r <= 16) : ROWS) {
        results.push(await measure(rows, overHttp(svc.url, rows)));
        loaded ??= memoryOf(svc.pid); // right after the load and the first batch size
      }
      const mem = memoryOf(svc.pid);
      const weightBytes = storedBytes(precision);
      const where = run.backend === "webgpu"
        ? ` on ${adapter!.info.description}${
          software ? " (software adapter: informative only)" : ""
        }`
        : "";
      console.log(
        `\nsaeserve ${run.backend}${where} over HTTP (.npy in, .npz out), ${precision} weights`,
      );
      console.log(
        "     rows        ms       rows/s  GFLOP/s  torch ms torch rows/s  GFLOP/s  saeserve/torch throughput",
      );
      for (const r of results) {
        const t = torchBy.get(r.rows);
        console.log(
          `${String(r.rows).padStart(9)} ${fmt(r.medianMs, 2)} ${fmt(r.rowsPerS)}    ${
            fmt(r.gflops)
          }` +
            (t
              ? ` ${fmt(t.medianMs, 2)} ${fmt(t.rowsPerS)}    ${fmt(t.gflops)}  ${
                (r.rowsPerS / t.rowsPerS).toFixed(2)
              }x`
              : ""),
        );
      }
      const one = results.find((r) => r.rows === 1);
      if (one) {
        const gbs = encoderBytes(precision) / (one.medianMs / 1000) / 1e9;
        const t = torchBy.get(1);
        console.log(
          `1 row: ${one.medianMs.toFixed(2)} ms` + (t
            ? ` = ${(one.medianMs / t.medianMs).toFixed(2)} x torch's ${t.medianMs.toFixed(2)} ms`
            : "") +
            `; encoder streamed at ${gbs.toFixed(1)} GB/s (copy bandwidth ${
              (copy / 1e9).toFixed(1)
            } GB/s)`,
        );
      }
      if (blocks) {
        console.log(
          `interleaved with torch, ${INTERLEAVE} rounds of ${BLOCK_SECONDS} s blocks each side:`,
        );
        for (const r of results) {
          const wrk = WRK
            ? await wrkBlocks({
              url: `${svc.url}${ENCODE_PATH}`,
              body: encodeNpy(input(r.rows), [r.rows, D_IN]),
              headers: NPY_HEADERS,
            })
            : null;
          const sides = [fetchSide(svc.url, r.rows), clientSide(svc.url, r.rows, transport)];
          if (wrk) sides.push({ client: "wrk", block: (seconds) => wrk.block(seconds) });
          sides.push({
            client: "python",
            block: (seconds) => blocks.block(r.rows, seconds, { url: svc.url, id: "big" }),
          });
          try {
            for (
              const line of await interleaved(r.rows, { saeserve: sides, torch: blocks }, {
                rounds: INTERLEAVE,
                blockSeconds: BLOCK_SECONDS,
                warmupSeconds: WARMUP,
              })
            ) {
              console.log(line);
            }
          } finally {
            await wrk?.close();
          }
        }
      }
      if (IN_PROCESS && run.backend === "wasm") {
        const kernels = await inProcess(precision as Precision, results.map((r) => r.rows));
        console.log(
          "in this process, no HTTP: " +
            kernels.map((k, i) =>
              `${k.rows} rows ${k.medianMs.toFixed(2)} ms (over HTTP ${
                results[i].medianMs.toFixed(2)
              } ms)`
            ).join(", "),
        );
      }
      const mib = (b: number) =>
        `${(b / 2 ** 20).toFixed(0)} MiB = ${(b / weightBytes).toFixed(2)} x`;
      console.log(
        `memory after the load and ${ROWS[0]}-row requests: VmRSS ${
          mib(loaded!.rss)
        } the ${precision} weights, peak ${mib(loaded!.peak)}`,
      );
      console.log(
        `memory after every batch size: VmRSS ${(mem.rss / 2 ** 20).toFixed(0)} MiB = ${
          (mem.rss / weightBytes).toFixed(2)
        } x the ${precision} weights ` +
          `(${(weightBytes / 2 ** 20).toFixed(0)} MiB); peak VmHWM ${
            (mem.peak / 2 ** 20).toFixed(0)
          } MiB = ${(mem.peak / weightBytes).toFixed(2)} x` +
          ` (file ${(fileBytes / 2 ** 20).toFixed(0)} MiB)`,
      );
    } finally {
      transport.close();
      await svc.stop();
    }
  }
  await blocks?.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}
