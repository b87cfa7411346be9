/**
 * The WASM backend against the reference backend: every fixture family (conformance), random
 * shapes that exercise every kernel edge (row remainders, padded columns, cache blocks),
 * every activation and selection mode, reduced-precision weights, and thread-count
 * independence.
 * @module
 */

import assert from "node:assert/strict";
import type { Backend } from "../backend.ts";
import { type Matrix, matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import { referenceBackend } from "../reference/mod.ts";
import { wasmBackend } from "./mod.ts";
import {
  assertClose,
  conformanceTests,
  everyActivation,
  random,
  randomWeights,
} from "../../tests/conformance.ts";

const wasm = await wasmBackend({ threads: 3 });
const reference = referenceBackend();

conformanceTests("wasm", () => wasm, { tol: 1e-4 });

function assertSameCodes(
  actual: SparseRows,
  expected: SparseRows,
  tol: number,
  what: string,
): void {
  assert.equal(actual.indices.length, expected.indices.length);
  for (let r = 0; r < expected.indices.length; r++) {
    assert.deepEqual([...actual.indices[r]], [...expected.indices[r]], `${what} row ${r} indices`);
    assertClose(actual.values[r], expected.values[r], {
      tol: tol,
      what: `${what} row ${r} values`,
    });
  }
}

async function both<T>(run: (b: Backend) => Promise<T>): Promise<[T, T]> {
  return [await run(wasm), await run(reference)];
}

// Shapes: row remainders (1, 3, 5), a 4-row block, more rows than a tile; d_sae not a multiple
// of 8 and wider than several tiles; d_in deeper than one cache block (256).
const SHAPES: [number, number, number][] = [
  [1, 16, 40],
  [3, 33, 300],
  [4, 300, 130],
  [5, 64, 1027],
  [17, 40, 64],
];

for (const [rows, dIn, dSae] of SHAPES) {
  for (const [name, activation] of Object.entries(everyActivation(dSae, dIn + dSae))) {
    Deno.test(`wasm encode ${name} ${rows}x${dIn} -> ${dSae} matches reference (all and top 3)`, async () => {
      const w = randomWeights(dIn, dSae, { activation: activation, seed: rows * 31 + dSae });
      const s = matrix([rows, dIn], random(rows * dIn, 99 + rows));
      const [pw, pr] = [await wasm.prepare(w), await reference.prepare(w)];
      try {
        for (const top of [undefined, 3]) {
          const got = await wasm.encode(pw, s, { top });
          const want = await reference.encode(pr, s, { top });
          assertSameCodes(got, want, 1e-4, `${name} top ${top}`);
        }
      } finally {
        wasm.release(pw);
      }
    });
  }
}

Deno.test("wasm decode (sparse and dense), steer and matmul match reference", async () => {
  const w = randomWeights(37, 100, {
    activation: { kind: "relu", bEnc: random(100, 5) },
    seed: 11,
  });
  const pw = await wasm.prepare(w);
  const pr = await reference.prepare(w);
  try {
    const codes: SparseRows = {
      width: 100,
      indices: [Int32Array.from([5, 99, 0]), Int32Array.from([]), Int32Array.from([42])],
      values: [
        Float32Array.from([1.5, -0.25, 3]),
        Float32Array.from([]),
        Float32Array.from([0.125]),
      ],
    };
    for (const bias of [true, false]) {
      const [a, b] = await both((be) => be.decodeSparse(be === wasm ? pw : pr, codes, { bias }));
      assertClose(a.data, b.data, { tol: 1e-5, what: `decodeSparse bias ${bias}` });
    }
    const sparseDense = matrix([2, 100], new Float32Array(200));
    sparseDense.data[3] = 2;
    sparseDense.data[150] = -1;
    const dense = matrix([3, 100], random(300, 8));
    for (const m of [sparseDense, dense]) {
      const [a, b] = await both((be) => be.decodeDense(be === wasm ? pw : pr, m));
      assertClose(a.data, b.data, { tol: 1e-5, what: "decodeDense" });
    }
    const x = matrix([3, 37], random(111, 9));
    const rowScale = Float32Array.from([1, 0.5, 2]);
    const [s1, s2] = await both((be) => be.steer(be === wasm ? pw : pr, x, codes, { rowScale }));
    assertClose(s1.data, s2.data, { tol: 1e-5, what: "steer" });
    const a = matrix([6, 37], random(222, 10));
    const b = matrix([37, 19], random(37 * 19, 12));
    const bt = matrix([19, 37], random(37 * 19, 13));
    const [m1, m2] = await both((be) => be.matmul(a, b));
    assertClose(m1.data, m2.data, { tol: 1e-5, what: "matmul" });
    const [t1, t2] = await both((be) => be.matmul(a, bt, { transposeB: true }));
    assertClose(t1.data, t2.data, { tol: 1e-5, what: "matmul transposeB" });
    await assert.rejects(
      wasm.decodeSparse(pw, {
        width: 100,
        indices: [Int32Array.from([100])],
        values: [Float32Array.from([1])],
      }),
      RangeError,
    );
  } finally {
    wasm.release(pw);
  }
});

Deno.test("wasm results do not depend on the thread count", async () => {
  const one = await wasmBackend({ threads: 1 });
  try {
    const w = randomWeights(96, 2048, {
      activation: { kind: "topk", bEnc: random(2048, 3, { scale: 0.1 }), k: 16 },
      seed: 21,
    });
    const s = matrix([9, 96], random(9 * 96, 22));
    const [p1, p3] = [await one.prepare(w), await wasm.prepare(w)];
    const a = await one.encode(p1, s);
    const b = await wasm.encode(p3, s);
    assert.deepEqual(a.indices.map((ix) => [...ix]), b.indices.map((ix) => [...ix]));
    assert.deepEqual(a.values.map((v) => [...v]), b.values.map((v) => [...v]));
    one.release(p1);
    wasm.release(p3);
  } finally {
    one.close();
  }
});

Deno.test("a last worker that polls for 30 ms (spinMs) gives the same codes, polling or asleep", async () => {
  const polling = await wasmBackend({ threads: 2, spinMs: 30, weights: "int8" });
  const plain = await wasmBackend({ threads: 2, weights: "int8" });
  try {
    const w = randomWeights(96, 1024, {
      activation: { kind: "topk", bEnc: random(1024, 31, { scale: 0.1 }), k: 8 },
      seed: 32,
    });
    const [pp, pq] = [await polling.prepare(w), await plain.prepare(w)];
    for (const pause of [0, 0, 0, 60, 0, 60]) {
      // 0: the next round comes while the last worker still polls; 60: after it went to sleep.
      if (pause) await new Promise((resolve) => setTimeout(resolve, pause));
      const s = matrix([pause ? 1 : 5, 96], random((pause ? 1 : 5) * 96, 40 + pause));
      const [a, b] = [await polling.encode(pp, s), await plain.encode(pq, s)];
      assert.deepEqual(a.indices.map((ix) => [...ix]), b.indices.map((ix) => [...ix]));
      assert.deepEqual(a.values.map((v) => [...v]), b.values.map((v) => [...v]));
    }
    polling.release(pp);
    plain.release(pq);
  } finally {
    polling.close(); // while its last worker polls: close must not wait on it
    plain.close();
  }
});

for (const precision of ["bf16", "f16"] as const) {
  Deno.test(`wasm with ${precision} weights stays within its rounding error of f32`, async () => {
    const low = await wasmBackend({ threads: 2, weights: precision });
    try {
      const w = randomWeights(128, 512, {
        activation: { kind: "relu", bEnc: random(512, 4, { scale: 0.1 }) },
        seed: 31,
      });
      const s = matrix([4, 128], random(4 * 128, 32));
      const pl = await low.prepare(w);
      const pr = await reference.prepare(w);
      const got = await low.encode(pl, s, { top: 512 });
      const want = await reference.encode(pr, s, { top: 512 });
      // Compare the dense codes: bf16 keeps 8 mantissa bits (rel. 2^-9), f16 11 (2^-12).
      const tol = precision === "bf16" ? 2e-2 : 3e-3;
      const dense = (c: SparseRows, r: number) => {
        const out = new Float32Array(512);
        c.indices[r].forEach((i, j) => (out[i] = c.values[r][j]));
        return out;
      };
      for (let r = 0; r < 4; r++) {
        assertClose(dense(got, r), dense(want, r), { tol: tol, what: `${precision} row ${r}` });
      }
      const y = await low.decodeSparse(pl, want);
      const yRef = await reference.decodeSparse(pr, want);
      assertClose(y.data, yRef.data, { tol: tol, what: `${precision} decode` });
      low.release(pl);
    } finally {
      low.close();
    }
  });
}

Deno.test("wasm backend: close the shared pool (last test)", () => {
  wasm.close();
});

export type { Matrix };
