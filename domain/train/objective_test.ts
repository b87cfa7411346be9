/**
 * Gradients of the training objective against central finite differences (reference backend),
 * for every architecture, and the WASM / WebGPU backends' gradients against the reference.
 * @module
 */

import assert from "node:assert/strict";
import type { Backend } from "../../backends/backend.ts";
import { matrix } from "../sae/matrix.ts";
import { seededRandom } from "../random.ts";
import { topK } from "../sae/top_k.ts";
import { referenceBackend } from "../../backends/reference/mod.ts";
import {
  lossAndGradients,
  type ObjectiveOptions,
  type SaeParams,
  type TrainArchitecture,
} from "./objective.ts";
import { webgpuBackend } from "../../backends/gpu/mod.ts";
import { wasmBackend } from "../../backends/wasm/mod.ts";

/** Seeded values uniform on [-0.5, 0.5). */
function rng(seed: number): () => number {
  const uniform = seededRandom(seed);
  return () => uniform() - 0.5;
}

const D = 6;
const N = 10;
const B = 5;

function params(seed: number, arch: TrainArchitecture): SaeParams {
  const r = rng(seed);
  return {
    dIn: D,
    dSae: N,
    wEnc: Float32Array.from({ length: D * N }, () => r() * 1.2),
    bEnc: Float32Array.from({ length: N }, () => r() * 0.4),
    wDec: Float32Array.from({ length: N * D }, () => r() * 1.2),
    bDec: Float32Array.from({ length: D }, () => r() * 0.3),
    logThreshold: arch === "jumprelu"
      ? Float32Array.from({ length: N }, () => Math.log(0.2 + r() * 0.1))
      : new Float32Array(0),
  };
}

const x = matrix([B, D], Float32Array.from({ length: B * D }, rng(99)).map((v) => v * 3));
const KEYS = ["wEnc", "bEnc", "wDec", "bDec"] as const;

/** Central differences of the loss for a few coordinates of each parameter. */
async function checkFiniteDifferences(
  arch: TrainArchitecture,
  options: ObjectiveOptions,
  pick?: (key: string, i: number) => boolean,
  tweak?: (p: SaeParams) => void,
) {
  const backend = referenceBackend();
  const p = params(7, arch);
  tweak?.(p);
  const { grads } = await lossAndGradients(backend, { params: p, x }, options);
  const h = 1e-3;
  let checked = 0;
  for (const key of KEYS) {
    const arr = p[key];
    for (let i = 0; i < arr.length; i += 3) {
      if (pick && !pick(key, i)) continue;
      const keep = arr[i];
      arr[i] = keep + h;
      const up = (await lossAndGradients(backend, { params: p, x }, options)).loss;
      arr[i] = keep - h;
      const down = (await lossAndGradients(backend, { params: p, x }, options)).loss;
      arr[i] = keep;
      const fd = (up - down) / (2 * h);
      const g = grads[key][i];
      assert.ok(
        Math.abs(fd - g) <= 2e-2 * Math.max(1, Math.abs(fd)),
        `${arch} ${key}[${i}]: analytic ${g}, finite difference ${fd}`,
      );
      checked++;
    }
  }
  assert.ok(checked > 10);
}

Deno.test("objective: topk gradients match finite differences", () =>
  checkFiniteDifferences("topk", { architecture: "topk", k: 3 }));
Deno.test("objective: batchtopk gradients match finite differences", () =>
  checkFiniteDifferences("batchtopk", { architecture: "batchtopk", k: 3 }));
Deno.test("objective: relu + L1 gradients match finite differences", () =>
  checkFiniteDifferences("relu", { architecture: "relu", sparsityCoefficient: 0.3 }));
Deno.test("objective: relu + L1 with few active latents (the sparse path) matches finite differences", () =>
  checkFiniteDifferences(
    "relu",
    { architecture: "relu", sparsityCoefficient: 0.3 },
    undefined,
    (p) => p.bEnc.fill(-1.2),
  ));
Deno.test("objective: jumprelu gradients (away from thresholds) match finite differences", () =>
  checkFiniteDifferences("jumprelu", { architecture: "jumprelu", sparsityCoefficient: 0.05 }));

Deno.test("objective: AuxK gradients of dead latents match finite differences of the aux term", async () => {
  const backend = referenceBackend();
  const p = params(11, "topk");
  // Dead: the latents the batch never selects (as dead latents are in training).
  const fired =
    (await lossAndGradients(backend, { params: p, x }, { architecture: "topk", k: 2 })).fired;
  const dead = Uint8Array.from(fired, (n) => (n === 0 ? 1 : 0));
  assert.ok(dead.reduce((t, v) => t + v, 0) >= 3, "enough dead latents");
  const options: ObjectiveOptions = { architecture: "topk", k: 2, dead, kAux: 3, auxAlpha: 0.5 };
  const base = await lossAndGradients(backend, { params: p, x }, options);
  const without = await lossAndGradients(backend, { params: p, x }, {
    ...options,
    dead: undefined,
  });
  assert.ok(base.auxLoss > 0);
  const h = 1e-3;
  let checked = 0;
  // Dead latents never enter the reconstruction, so the residual the aux term fits is fixed
  // with respect to their encoder columns, biases and decoder rows.
  for (let i = 0; i < N; i++) {
    if (!dead[i]) continue;
    for (const [key, at] of [["bEnc", i], ["wDec", i * D + 1], ["wEnc", 2 * N + i]] as const) {
      const arr = p[key];
      const keep = arr[at];
      arr[at] = keep + h;
      const up = (await lossAndGradients(backend, { params: p, x }, options)).auxLoss;
      arr[at] = keep - h;
      const down = (await lossAndGradients(backend, { params: p, x }, options)).auxLoss;
      arr[at] = keep;
      const fd = (up - down) / (2 * h);
      const g = base.grads[key][at] - without.grads[key][at];
      assert.ok(
        Math.abs(fd - g) <= 2e-2 * Math.max(1, Math.abs(fd)),
        `aux ${key}[${at}]: ${g} vs ${fd}`,
      );
      checked++;
    }
  }
  assert.ok(checked >= 9);
});

Deno.test("objective: jumprelu threshold gradient is the straight-through estimate", async () => {
  const backend = referenceBackend();
  const p = params(3, "jumprelu");
  // Put latent 0 of row 0 just above its threshold, inside the kernel window.
  const { grads } = await lossAndGradients(backend, { params: p, x }, {
    architecture: "jumprelu",
    sparsityCoefficient: 0.05,
    bandwidth: 10,
  });
  // With a huge bandwidth every positive pre-activation is in the window: the gradient is non-zero.
  assert.ok(grads.logThreshold.some((g) => g !== 0));
  const narrow = await lossAndGradients(backend, { params: p, x }, {
    architecture: "jumprelu",
    sparsityCoefficient: 0.05,
    bandwidth: 1e-9,
  });
  assert.ok(narrow.grads.logThreshold.every((g) => g === 0));
});

const hasAdapter = !!(await navigator.gpu?.requestAdapter().catch(() => null));

async function compareBackend(name: string, make: () => Promise<Backend & { close?(): void }>) {
  const backend = await make();
  try {
    for (const arch of ["topk", "batchtopk", "relu", "jumprelu"] as const) {
      const p = params(21, arch);
      const options: ObjectiveOptions = {
        architecture: arch,
        k: 3,
        sparsityCoefficient: 0.1,
        dead: Uint8Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 1 : 0)),
      };
      const a = await lossAndGradients(backend, { params: p, x }, options);
      const b = await lossAndGradients(referenceBackend(), { params: p, x }, options);
      assert.ok(Math.abs(a.loss - b.loss) <= 1e-4 * Math.max(1, b.loss), `${name} ${arch} loss`);
      for (const key of [...KEYS, "logThreshold"] as const) {
        for (let i = 0; i < b.grads[key].length; i++) {
          const e = b.grads[key][i];
          assert.ok(
            Math.abs(a.grads[key][i] - e) <= 1e-3 * Math.max(1, Math.abs(e)),
            `${name} ${arch} ${key}[${i}]`,
          );
        }
      }
    }
  } finally {
    backend.close?.();
  }
}

Deno.test("objective: the wasm kernels match the reference on odd sizes, ties, BatchTopK rows beyond their candidates and AuxK", async () => {
  const [dIn, dSae, rows] = [13, 37, 77];
  const r = rng(31);
  const base: SaeParams = {
    dIn,
    dSae,
    wEnc: Float32Array.from({ length: dIn * dSae }, () => r()),
    bEnc: Float32Array.from({ length: dSae }, () => r() * 0.2),
    wDec: Float32Array.from({ length: dSae * dIn }, () => r()),
    bDec: Float32Array.from({ length: dIn }, () => r() * 0.3),
    logThreshold: new Float32Array(0),
  };
  // Latent 10 repeats latent 4's encoder column: equal pre-activations, ties at the cap.
  for (let c = 0; c < dIn; c++) base.wEnc[c * dSae + 10] = base.wEnc[c * dSae + 4];
  base.bEnc[10] = base.bEnc[4];
  const xs = matrix([rows, dIn], Float32Array.from({ length: rows * dIn }, () => r() * 3));
  // Row 5 dominates the batch: BatchTopK takes more of it than its first candidates.
  for (let c = 0; c < dIn; c++) xs.data[5 * dIn + c] *= 20;
  const dead = Uint8Array.from({ length: dSae }, (_, i) => (i % 3 === 1 ? 1 : 0));
  const wasm = await wasmBackend({ threads: 2 });
  try {
    assert.ok(wasm.sparseObjective);
    for (const architecture of ["topk", "batchtopk"] as const) {
      for (const options of [{ architecture, k: 4 }, { architecture, k: 4, dead }]) {
        const label = `${architecture}${"dead" in options ? " + AuxK" : ""}`;
        const a = await lossAndGradients(wasm, { params: base, x: xs }, options);
        const b = await lossAndGradients(referenceBackend(), { params: base, x: xs }, options);
        for (const key of ["loss", "mse", "auxLoss", "fvu", "l0", "minSelected"] as const) {
          assert.ok(
            Math.abs(a[key] - b[key]) <= 1e-5 * Math.max(1, Math.abs(b[key])),
            `${label} ${key}`,
          );
        }
        assert.deepEqual(a.fired, b.fired, `${label} fired`);
        if ("dead" in options) assert.ok(b.auxLoss > 0, `${label}: the AuxK term is active`);
        for (const key of KEYS) {
          b.grads[key].forEach((e, i) =>
            assert.ok(
              Math.abs(a.grads[key][i] - e) <= 1e-4 * Math.max(1, Math.abs(e)),
              `${label} ${key}[${i}]: ${a.grads[key][i]} vs ${e}`,
            )
          );
        }
      }
    }
    // The premises: the tie falls at the TopK cap in some rows, and BatchTopK takes more of
    // row 5 than the 4 k = 16 candidates a row keeps at first.
    const h = (b: number, i: number) => {
      let v = base.bEnc[i];
      for (let c = 0; c < dIn; c++) {
        v += (xs.data[b * dIn + c] - base.bDec[c]) * base.wEnc[c * dSae + i];
      }
      return v;
    };
    const all = Float32Array.from(
      { length: rows * dSae },
      (_, at) => h(Math.floor(at / dSae), at % dSae),
    );
    let split = 0;
    for (let b = 0; b < rows; b++) {
      const top = [...topK(all.subarray(b * dSae, (b + 1) * dSae), 4).indices];
      if (top.includes(4) && !top.includes(10)) split++;
    }
    assert.ok(split > 0, "a tie at the cap");
    const batchTop = topK(all, 4 * rows, { keep: (v) => v > 0 }).indices;
    assert.ok(batchTop.filter((at) => Math.floor(at / dSae) === 5).length > 16);
  } finally {
    wasm.close();
  }
});

Deno.test("objective: the wasm backend's gradients match the reference", () =>
  compareBackend("wasm", () => wasmBackend({ threads: 2 })));
Deno.test({
  name: "objective: the webgpu backend's gradients match the reference",
  ignore: !hasAdapter,
  fn: () => compareBackend("webgpu", () => webgpuBackend()),
});
