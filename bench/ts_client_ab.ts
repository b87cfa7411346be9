/**
 * The TypeScript client's two transports side by side: 1-row encodes of a 2304 x 16384 TopK
 * dictionary through `Client` on the runtime's fetch and on `http1Fetch` (clients/ts/http1.ts),
 * and the bare .npy -> .npz exchange through each, in alternating blocks (order swapped every
 * round). Both clients must return the same codes. Prints each way's median of block medians
 * and how many rounds http1Fetch won.
 *
 * Run: deno run -A bench/ts_client_ab.ts. Options: BENCH_ROUNDS=12 BENCH_SECONDS=1
 * BENCH_WEIGHTS=int8.
 * @module
 */

import { Client } from "../clients/ts/mod.ts";
import { http1Fetch } from "../clients/ts/http1.ts";
import { encodeNpy } from "../domain/io/npy.ts";
import { gaussianArray } from "../domain/random.ts";
import { block, median } from "./interleave.ts";
import { startService } from "../tests/service_process.ts";
import { writeTopKDictionary } from "./synthetic_dictionary.ts";

const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 12);
const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 1);
const WEIGHTS = Deno.env.get("BENCH_WEIGHTS") ?? "int8";
const D_IN = 2304, D_SAE = 16384, K = 64;

const dir = await Deno.makeTempDir({ prefix: "saeserve-ts-client-" });
const lean = http1Fetch();
const svc = await (async () => {
  await writeTopKDictionary(dir, { name: "big", dIn: D_IN, dSae: D_SAE, k: K });
  return await startService({
    SAESERVE_STORE: `file://${dir}`,
    SAESERVE_BACKEND: "wasm",
    SAESERVE_WEIGHTS: WEIGHTS,
    SAESERVE_LOG: "off",
  });
})();
try {
  const x = { data: gaussianArray(D_IN, 7), rows: 1, cols: D_IN };
  const body = encodeNpy(x.data, [1, D_IN]);
  const bare = (f: (url: string, init: RequestInit) => Promise<Response>) => async () => {
    const res = await f(`${svc.url}/v1/dictionaries/big/encode?top=${K}`, {
      method: "POST",
      headers: { "content-type": "application/x-npy", accept: "application/x-npz" },
      body,
    });
    if (res.status !== 200) throw new Error(`encode answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  };
  const viaFetch = new Client({ baseUrl: svc.url });
  const viaHttp1 = new Client({ baseUrl: svc.url, fetch: lean });
  const a = await viaFetch.encode("big", x, { top: K });
  const b = await viaHttp1.encode("big", x, { top: K });
  if (a.indices.join() !== b.indices.join() || a.values.join() !== b.values.join()) {
    throw new Error("the two transports returned different codes");
  }
  const ways: [string, () => Promise<void>][] = [
    ["Client, fetch", async () => void await viaFetch.encode("big", x, { top: K })],
    ["Client, http1Fetch", async () => void await viaHttp1.encode("big", x, { top: K })],
    ["bare .npy -> .npz, fetch", bare(fetch)],
    ["bare .npy -> .npz, http1Fetch", bare(lean)],
  ];
  for (const [, once] of ways) for (let i = 0; i < 2000; i++) await once(); // warm-up
  console.log(
    `${D_IN} x ${D_SAE} TopK k=${K}, ${WEIGHTS} weights, wasm, ${navigator.hardwareConcurrency} ` +
      `cores; 1-row encodes, ${ROUNDS} rounds of ${SECONDS} s blocks, order swapped each round`,
  );
  const medians = ways.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    const order = ways.map((_, i) => i);
    if (round % 2) order.reverse();
    for (const i of order) medians[i].push(await block(ways[i][1], SECONDS));
  }
  console.log("| way | median of block medians, ms | rounds faster than its fetch twin |");
  console.log("|---|---:|---:|");
  ways.forEach(([name], i) => {
    const twin = i % 2 ? i - 1 : i + 1;
    const won = i % 2 ? medians[i].filter((m, r) => m < medians[twin][r]).length : 0;
    const tail = i % 2 ? `${won} of ${ROUNDS}` : "";
    console.log(`| ${name} | ${median(medians[i]).toFixed(3)} | ${tail} |`);
  });
} finally {
  lean.close();
  await svc.stop();
  await Deno.remove(dir, { recursive: true });
}
