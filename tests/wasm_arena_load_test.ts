/**
 * Loading through the WASM backend's arena: the loaders stream W_enc and W_dec straight into
 * the kernels' memory, `prepare` re-packs them in place (block transpose, in-place precision
 * compaction), and the answers still match the reference backend.
 * @module
 */

import assert from "node:assert/strict";
import { matrix } from "../domain/sae/matrix.ts";
import { referenceBackend } from "../backends/reference/mod.ts";
import { Registry } from "../service/registry.ts";
import { encodeRows } from "../domain/sae/sae.ts";
import { fileStore } from "../service/store/file.ts";
import { wasmBackend } from "../backends/wasm/mod.ts";
import { assertClose } from "./conformance.ts";

const DEMO = new URL("../dictionaries", import.meta.url).pathname;
const IDS = ["demo-topk", "demo-jumprelu", "demo-sparsify"];

function rows(n: number, d: number): Float32Array {
  return Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 0.37) * 2);
}

for (const precision of ["f32", "bf16", "f16"] as const) {
  Deno.test(`wasm arena (${precision}): demo dictionaries load in place and match the reference`, async () => {
    const wasm = await wasmBackend({ threads: 2, weights: precision });
    const ref = new Registry(fileStore(DEMO), {
      backend: referenceBackend(),
      memoryBudget: 1 << 30,
    });
    const reg = new Registry(fileStore(DEMO), { backend: wasm, memoryBudget: 1 << 30 });
    try {
      for (const id of IDS) {
        const a = await reg.acquire(id);
        const b = await ref.acquire(id);
        try {
          // Adopted: the loader's f32 matrices were re-packed in place, no stale view kept.
          assert.equal(a.prepared.weights.wEnc.data.length, 0, `${id} encoder adopted`);
          assert.equal(a.prepared.weights.wDec.data.length, 0, `${id} decoder adopted`);
          const x = matrix([5, 64], rows(5, 64));
          const include = new Set(["reconstruction"] as const);
          const got = await encodeRows({ backend: wasm, prepared: a.prepared }, x, { include });
          const want = await encodeRows({ backend: referenceBackend(), prepared: b.prepared }, x, {
            include,
          });
          const tol = precision === "f32" ? 1e-4 : precision === "f16" ? 5e-3 : 3e-2;
          assertClose(got.reconstruction!.data, want.reconstruction!.data, {
            tol: tol,
            what: `${id} reconstruction`,
          });
          if (precision === "f32") {
            assert.deepEqual(
              got.codes.indices.map((ix) => [...ix]),
              want.codes.indices.map((ix) => [...ix]),
              id,
            );
          }
        } finally {
          a.release();
          b.release();
        }
      }
    } finally {
      reg.close();
      ref.close();
      wasm.close();
    }
  });
}
