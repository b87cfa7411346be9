/**
 * The WebGPU backend (on whatever adapter Deno finds: llvmpipe in CI) against the reference:
 * every fixture family, random shapes and activations, the multi-level GPU top-k, matrices
 * split across several buffers, and an encoder larger than one 128 MiB binding.
 * @module
 */

import assert from "node:assert/strict";
import { matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import { referenceBackend } from "../reference/mod.ts";
import { webgpuBackend } from "./mod.ts";
import {
  assertClose,
  conformanceTests,
  everyActivation,
  random,
  randomWeights,
} from "../../tests/conformance.ts";

const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
const ignore = !adapter;
// Bindings capped at llvmpipe's 128 MiB, so a real GPU (2 GiB on an H200) splits the same
// matrices as this machine does.
const gpu = ignore ? null : await webgpuBackend({ maxBindingBytes: 128 << 20 });
// A second instance whose bindings hold at most 64 KiB: every small dictionary is split.
const tiny = ignore ? null : await webgpuBackend({ maxBindingBytes: 64 << 10 });
const reference = referenceBackend();

if (gpu) conformanceTests("webgpu", () => gpu, { tol: 1e-4 });

/**
 * `indices` in the order of `expected`, except that two neighbours whose expected values are
 * within f32 rounding of each other (a tie the GPU's f32 sums may break the other way) are
 * taken in the order `actual` has them.
 */
function tieOrder(actual: Int32Array, expected: SparseRows, r: number): number[] {
  const want = [...expected.indices[r]];
  const values = expected.values[r];
  for (let j = 0; j + 1 < want.length; j++) {
    const near = Math.abs(values[j] - values[j + 1]) <= 1e-6 * Math.abs(values[j]);
    if (near && actual[j] === want[j + 1] && actual[j + 1] === want[j]) {
      [want[j], want[j + 1]] = [want[j + 1], want[j]];
      j++;
    }
  }
  return want;
}

function assertSameCodes(
  actual: SparseRows,
  expected: SparseRows,
  tol: number,
  what: string,
): void {
  assert.equal(actual.indices.length, expected.indices.length);
  for (let r = 0; r < expected.indices.length; r++) {
    const want = tieOrder(actual.indices[r], expected, r);
    assert.deepEqual([...actual.indices[r]], want, `${what} row ${r} indices`);
    assertClose(actual.values[r], expected.values[r], {
      tol: tol,
      what: `${what} row ${r} values`,
    });
  }
}

// Row counts around the 64-row tile, widths around the 1024-candidate top-k block (3000 needs
// two selection levels with k = 300), depths that are not a multiple of the 16-deep tile.
const SHAPES: [number, number, number][] = [[1, 16, 40], [3, 33, 300], [65, 40, 64], [2, 24, 3000]];

for (const [rows, dIn, dSae] of SHAPES) {
  Deno.test({
    name:
      `webgpu encode ${rows}x${dIn} -> ${dSae}, every activation, matches reference (all, top 3, top 300)`,
    ignore,
    async fn() {
      for (const [name, activation] of Object.entries(everyActivation(dSae, dIn + dSae))) {
        const w = randomWeights(dIn, dSae, { activation: activation, seed: rows * 31 + dSae });
        const s = matrix([rows, dIn], random(rows * dIn, 99 + rows));
        for (const backend of [gpu!, tiny!]) {
          const p = await backend.prepare(w);
          const pr = await reference.prepare(w);
          try {
            for (const top of [undefined, 3, 300]) {
              const got = await backend.encode(p, s, { top });
              const want = await reference.encode(pr, s, { top });
              assertSameCodes(
                got,
                want,
                1e-4,
                `${name} top ${top}${backend === tiny ? " (split)" : ""}`,
              );
            }
          } finally {
            backend.release(p);
          }
        }
      }
    },
  });
}

Deno.test({
  name: "webgpu decode (sparse, dense), steer and matmul match reference, split or not",
  ignore,
  async fn() {
    const w = randomWeights(37, 1000, {
      activation: { kind: "relu", bEnc: random(1000, 5) },
      seed: 11,
    });
    const pr = await reference.prepare(w);
    for (const backend of [gpu!, tiny!]) {
      const p = await backend.prepare(w);
      try {
        const codes: SparseRows = {
          width: 1000,
          indices: [Int32Array.from([5, 999, 0, 600]), Int32Array.from([]), Int32Array.from([42])],
          values: [
            Float32Array.from([1.5, -0.25, 3, 2]),
            Float32Array.from([]),
            Float32Array.from([0.125]),
          ],
        };
        for (const bias of [true, false]) {
          assertClose(
            (await backend.decodeSparse(p, codes, { bias })).data,
            (await reference.decodeSparse(pr, codes, { bias })).data,
            { tol: 1e-5, what: `decodeSparse bias ${bias}` },
          );
        }
        const dense = matrix([2, 1000], random(2000, 8));
        assertClose(
          (await backend.decodeDense(p, dense)).data,
          (await reference.decodeDense(pr, dense)).data,
          { tol: 1e-4, what: "decodeDense" },
        );
        const x = matrix([3, 37], random(111, 9));
        const rowScale = Float32Array.from([1, 0.5, 2]);
        assertClose(
          (await backend.steer(p, x, codes, { rowScale })).data,
          (await reference.steer(pr, x, codes, { rowScale })).data,
          { tol: 1e-5, what: "steer" },
        );
        const a = matrix([6, 37], random(222, 10));
        const b = matrix([37, 190], random(37 * 190, 12));
        const bt = matrix([190, 37], random(37 * 190, 13));
        assertClose((await backend.matmul(a, b)).data, (await reference.matmul(a, b)).data, {
          tol: 1e-5,
          what: "matmul",
        });
        assertClose(
          (await backend.matmul(a, bt, { transposeB: true })).data,
          (await reference.matmul(a, bt, { transposeB: true })).data,
          { tol: 1e-5, what: "matmul transposeB" },
        );
        await assert.rejects(
          backend.decodeSparse(p, {
            width: 1000,
            indices: [Int32Array.from([1000])],
            values: [Float32Array.from([1])],
          }),
          RangeError,
        );
      } finally {
        backend.release(p);
      }
    }
  },
});

Deno.test({
  name:
    "webgpu: an encoder larger than one 128 MiB binding (2304 x 16384 f32) encodes like the reference",
  ignore,
  async fn() {
    const dIn = 2304;
    const dSae = 16384;
    const w = randomWeights(dIn, dSae, {
      activation: { kind: "topk", bEnc: random(dSae, 3, { scale: 0.1 }), k: 64 },
      seed: 77,
    });
    assert.ok(dIn * dSae * 4 > gpu!.maxBinding, "the encoder must not fit one binding");
    const s = matrix([2, dIn], random(2 * dIn, 78));
    const p = await gpu!.prepare(w);
    try {
      const got = await gpu!.encode(p, s);
      const want = await reference.encode(await reference.prepare(w), s);
      assertSameCodes(got, want, 1e-4, "2304x16384");
      assert.equal(got.indices[0].length, 64);
    } finally {
      gpu!.release(p);
    }
  },
});

Deno.test({
  name: "webgpu: release the devices (last test)",
  ignore,
  fn: () => (gpu!.close(), tiny!.close()),
});

for (const precision of ["bf16", "f16"] as const) {
  Deno.test({
    name:
      `webgpu with ${precision} weights (packed two per word) stays within rounding of f32, split or not`,
    ignore,
    async fn() {
      const tol = precision === "bf16" ? 2e-2 : 3e-3;
      // Odd d_in (decoder rows padded to even) and odd d_sae (last encoder chunk odd).
      const w = randomWeights(37, 1001, {
        activation: { kind: "relu", bEnc: random(1001, 4, { scale: 0.1 }) },
        seed: 31,
      });
      const s = matrix([5, 37], random(5 * 37, 32));
      const pr = await reference.prepare(w);
      const want = await reference.encode(pr, s, { top: 1001 });
      const dense = (c: SparseRows, r: number) => {
        const out = new Float32Array(1001);
        c.indices[r].forEach((i, j) => (out[i] = c.values[r][j]));
        return out;
      };
      for (const maxBindingBytes of [undefined, 16 << 10]) {
        const low = await webgpuBackend({ weights: precision, maxBindingBytes });
        try {
          assert.equal(low.precision, precision);
          const p = await low.prepare(w);
          const got = await low.encode(p, s, { top: 1001 });
          for (let r = 0; r < 5; r++) {
            assertClose(dense(got, r), dense(want, r), { tol: tol, what: `${precision} row ${r}` });
          }
          const y = await low.decodeSparse(p, want);
          assertClose(y.data, (await reference.decodeSparse(pr, want)).data, {
            tol: tol,
            what: `${precision} decode`,
          });
          low.release(p);
        } finally {
          low.close();
        }
      }
    },
  });
}
