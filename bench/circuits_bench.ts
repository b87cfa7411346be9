/**
 * Circuit discovery at GPT-2-small size on the WASM path: 500 examples x 144 heads x 768,
 * 10 training examples, 200 latents, 500 epochs. Reports each stage's time (goal: < 30 s total).
 * @module
 */

import { discoverCircuit } from "../domain/features/circuits.ts";
import { wasmBackend } from "../backends/wasm/mod.ts";
import { uniformArray } from "../domain/random.ts";

const EXAMPLES = 500;
const HEADS = 144;
const D = 768;
const data = uniformArray(EXAMPLES * HEADS * D, 7, { scale: 0.5 });
const labels = Array.from({ length: EXAMPLES }, (_, e) => e % 2);
const backend = await wasmBackend();
const started = performance.now();
const result = await discoverCircuit(
  backend,
  { examples: EXAMPLES, heads: HEADS, dModel: D, data },
  { labels },
);
const total = (performance.now() - started) / 1000;
backend.close();
console.log(`circuits: ${EXAMPLES} x ${HEADS} heads x ${D}, WASM ${backend.threads} threads`);
console.log(
  `stages (ms): ${JSON.stringify(result.timingsMs)}; total ${total.toFixed(1)} s (goal < 30 s)`,
);
