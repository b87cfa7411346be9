/**
 * The int8 encode (`weights: "int8"`) against the f32 WASM encode and the reference: every
 * activation kind, odd depths (not a multiple of 4) and padding columns, row remainders of the
 * 6-row kernel, rows at the quantizer's edges, blocks finished in one round or two, merged
 * apart, cut into checkpoints on 3 workers; rescored values bit-identical to f32, uncapped
 * selections identical (their candidates come from a proven bound), capped ones nearly so; the
 * numpy fixtures.
 * @module
 */

import assert from "node:assert/strict";
import { matrix, type SparseRows } from "../../domain/sae/matrix.ts";
import { referenceBackend } from "../reference/mod.ts";
import { wasmBackend } from "./mod.ts";
import {
  assertClose,
  conformanceTests,
  everyActivation,
  random,
  randomWeights,
} from "../../tests/conformance.ts";
import { int8Candidates } from "./int8.ts";

const f32 = await wasmBackend({ threads: 2 });
const int8 = await wasmBackend({ threads: 2, weights: "int8" });
const reference = referenceBackend();

conformanceTests("wasm int8", () => int8, { tol: 1e-4 });

/** Every value int8 returns is the f32 encode's bit for bit; `shared` of the indices agree. */
function compare(
  got: SparseRows,
  want: SparseRows,
  what: string,
): { shared: number; total: number } {
  let shared = 0;
  let total = 0;
  for (let r = 0; r < want.indices.length; r++) {
    const exact = new Map<number, number>();
    want.indices[r].forEach((j, i) => exact.set(j, want.values[r][i]));
    got.indices[r].forEach((j, i) => {
      if (exact.has(j)) {
        shared++;
        assert.equal(got.values[r][i], exact.get(j), `${what} row ${r} latent ${j}`);
      }
    });
    total += want.indices[r].length;
    const v = got.values[r];
    for (let i = 1; i < v.length; i++) assert.ok(v[i - 1] >= v[i], `${what} row ${r} order`);
  }
  return { shared, total };
}

// Depths 3, 37 and 301 (not multiples of 4), widths with padding columns, 1, 7 and 13 rows.
const SHAPES: [number, number, number][] = [[1, 3, 9], [7, 37, 45], [13, 301, 260]];

for (const [rows, dIn, dSae] of SHAPES) {
  for (const [name, activation] of Object.entries(everyActivation(dSae, dIn + dSae))) {
    Deno.test(`int8 encode ${name} ${rows}x${dIn} -> ${dSae}: f32 values, same selection`, async () => {
      const w = randomWeights(dIn, dSae, { activation: activation, seed: rows * 17 + dSae });
      const s = matrix([rows, dIn], random(rows * dIn, 5 + rows));
      const [p8, p32, pr] = [
        await int8.prepare(w),
        await f32.prepare(w),
        await reference.prepare(w),
      ];
      try {
        for (const top of [undefined, 3]) {
          const got = await int8.encode(p8, s, { top });
          const want = await f32.encode(p32, s, { top });
          const { shared, total } = compare(got, want, `${name} top ${top}`);
          // Uncapped selections come from a proven bound, and at these sizes the margin
          // covers every row: the same latents.
          assert.equal(shared, total, `${name} top ${top}: every f32 latent kept`);
          assert.deepEqual(got.indices.map((ix) => [...ix]), want.indices.map((ix) => [...ix]));
          const ref = await reference.encode(pr, s, { top });
          for (let r = 0; r < rows; r++) {
            assertClose(got.values[r], ref.values[r], {
              tol: 1e-4,
              what: `${name} row ${r} vs reference`,
            });
          }
        }
      } finally {
        int8.release(p8);
        f32.release(p32);
      }
    });
  }
}

Deno.test("int8 topk on a wide dictionary: f32 values, >= 99 % of the f32 latents", async () => {
  const dIn = 130, dSae = 3000, k = 32, rows = 20;
  const w = randomWeights(dIn, dSae, {
    activation: { kind: "topk", bEnc: random(dSae, 3, { scale: 0.05 }), k },
    seed: 41,
  });
  const s = matrix([rows, dIn], random(rows * dIn, 42));
  const [p8, p32] = [await int8.prepare(w), await f32.prepare(w)];
  try {
    const { shared, total } = compare(await int8.encode(p8, s), await f32.encode(p32, s), "wide");
    assert.equal(total, rows * k);
    assert.ok(shared / total >= 0.99, `agreement ${shared / total}`);
  } finally {
    int8.release(p8);
    f32.release(p32);
  }
});

Deno.test("candidates come from the int8 copy; whatever they are, values are rescored in f32", async () => {
  const dIn = 64, dSae = 512, k = 8;
  const w = randomWeights(dIn, dSae, {
    activation: { kind: "topk", bEnc: random(dSae, 3, { scale: 0.05 }), k },
    seed: 51,
  });
  const s = matrix([4, dIn], random(4 * dIn, 52));
  const [p8, p32] = [await int8.prepare(w), await f32.prepare(w)];
  try {
    const want = await f32.encode(p32, s);
    assert.equal(compare(await int8.encode(p8, s), want, "intact").shared, 4 * k);
    // Scramble the int8 weights: the selection goes astray, the values stay exact.
    const q = (p8 as unknown as { int8: { panels: number; kp: number; npad: number } }).int8;
    new Int8Array(int8.heap.memory.buffer, q.panels, q.kp * q.npad).set(
      Int8Array.from(random(q.kp * q.npad, 53), (v) => Math.round(v * 100)),
    );
    const got = await int8.encode(p8, s);
    const { shared } = compare(got, want, "scrambled");
    assert.ok(shared < 4 * k, "the int8 copy picks the candidates");
    // Every positive f32 code, from the same weights as a relu dictionary.
    const relu = await f32.prepare({
      ...w,
      activation: {
        kind: "relu",
        bEnc: w.activation.kind === "topk" ? w.activation.bEnc : new Float32Array(dSae),
      },
    });
    const exact = await f32.encode(relu, s);
    f32.release(relu);
    for (let r = 0; r < 4; r++) {
      got.indices[r].forEach((j, i) => {
        const at = exact.indices[r].indexOf(j);
        assert.ok(at >= 0);
        assert.equal(got.values[r][i], exact.values[r][at]);
      });
    }
  } finally {
    int8.release(p8);
    f32.release(p32);
  }
});

Deno.test("int8 keeps f32 decode and steer; counts its int8 copy", async () => {
  const w = randomWeights(37, 100, {
    activation: { kind: "relu", bEnc: random(100, 5) },
    seed: 11,
  });
  const [p8, p32] = [await int8.prepare(w), await f32.prepare(w)];
  try {
    const codes: SparseRows = {
      width: 100,
      indices: [Int32Array.from([5, 99, 0])],
      values: [Float32Array.from([1.5, -0.25, 3])],
    };
    const a = await int8.decodeSparse(p8, codes);
    const b = await f32.decodeSparse(p32, codes);
    assert.deepEqual([...a.data], [...b.data]);
    const x = matrix([1, 37], random(37, 9));
    assert.deepEqual([...(await int8.steer(p8, x, codes)).data], [
      ...(await f32.steer(p32, x, codes)).data,
    ]);
    // An int8 panel byte per weight (depth rounded up to 4) and 16 bytes per column.
    assert.equal(p8.extraBytes - p32.extraBytes, 104 * 40 + 16 * 104);
  } finally {
    int8.release(p8);
    f32.release(p32);
  }
});

Deno.test("kinds the int8 encode does not serve keep plain f32 panels and no int8 copy", async () => {
  const dSae = 48;
  const kinds = everyActivation(dSae, 3);
  const negative = kinds.gated.kind === "gated"
    ? { ...kinds.gated, magScale: random(dSae, 4).map((x) => x - 0.5) }
    : kinds.gated;
  const cases = {
    groupmax: kinds.groupmax,
    tanh_relu: kinds.tanh_relu,
    topk_signed: kinds.topk_signed,
    "gated, a negative scale": negative,
    "relu (served)": kinds.relu,
  };
  for (const [name, activation] of Object.entries(cases)) {
    const w = randomWeights(21, dSae, { activation, seed: 5 });
    const [p8, p32] = [await int8.prepare(w), await f32.prepare(w)];
    try {
      const served = name === "relu (served)";
      // No int8 copy counted unless the int8 encode serves the kind.
      assert.equal(p8.extraBytes > p32.extraBytes, served, name);
      const x = matrix([3, 21], random(63, 6));
      const got = await int8.encode(p8, x);
      const want = await f32.encode(p32, x);
      if (served) compare(got, want, name); // rescored: f32 values bit for bit
      else assert.deepEqual(got, want, name); // the f32 encode itself
    } finally {
      int8.release(p8);
      f32.release(p32);
    }
  }
});

Deno.test("the candidate margin widens small and large caps", () => {
  assert.equal(int8Candidates(3), 19);
  assert.equal(int8Candidates(64), 80);
  assert.equal(int8Candidates(256), 320);
});

/** The f32 encode's codes of `s` and int8's agree: every shared value bit-identical. */
async function agreement(
  w: ReturnType<typeof randomWeights>,
  s: ReturnType<typeof matrix>,
  top: number | undefined,
): Promise<number> {
  const [p8, p32] = [await int8.prepare(w), await f32.prepare(w)];
  try {
    const got = await int8.encode(p8, s, { top });
    const { shared, total } = compare(got, await f32.encode(p32, s, { top }), `top ${top}`);
    return total === 0 ? 1 : shared / total;
  } finally {
    int8.release(p8);
    f32.release(p32);
  }
}

Deno.test("int8 blocks finished in one round, in two, with a separate merge, over several blocks", async () => {
  const dIn = 40, dSae = 2048;
  const w = randomWeights(dIn, dSae, {
    activation: { kind: "topk", bEnc: random(dSae, 61, { scale: 0.05 }), k: 32 },
    seed: 62,
  });
  // 1 x 48 candidates: one round; 20 x 48: two rounds, merged by the last worker; 300 rows of
  // 2 x 250 at top 200: a 256-row block merged in a round of its own, then a 44-row block.
  for (const [rows, top] of [[1, 32], [20, 32], [300, 200]]) {
    const s = matrix([rows, dIn], random(rows * dIn, 63 + rows));
    const share = await agreement(w, s, top);
    assert.ok(share >= 0.99, `${rows} rows top ${top}: agreement ${share}`);
  }
});

Deno.test("int8 rows at the quantizer's edges: zeros, one spike, tiny and huge magnitudes", async () => {
  const dIn = 37, dSae = 70;
  const x = new Float32Array(5 * dIn);
  x[dIn + 11] = 3; // one spike: every other entry quantizes to 0
  for (let k = 0; k < dIn; k++) {
    x[2 * dIn + k] = (k % 3 - 1) * 1e-35; // scale below the quantizer's floor: all error
    x[3 * dIn + k] = Math.sin(k) * 1e30;
    x[4 * dIn + k] = k === 36 ? 100 : Math.cos(k); // the largest value in the K tail
  }
  const s = matrix([5, dIn], x);
  for (const [name, activation] of Object.entries(everyActivation(dSae, 71))) {
    const w = randomWeights(dIn, dSae, { activation, seed: 72 });
    for (const top of [undefined, 4]) {
      assert.equal(await agreement(w, s, top), 1, `${name} top ${top}`);
    }
  }
});

Deno.test("int8 calls cut into checkpoints on 3 workers, interleaved, equal the 2-worker codes", async () => {
  const cut = await wasmBackend({ threads: 3, checkpointWork: 1024, weights: "int8" });
  try {
    const w = randomWeights(40, 300, {
      activation: {
        kind: "jumprelu",
        bEnc: random(300, 81, { scale: 0.2 }),
        threshold: random(300, 82, { scale: 0.1 }).map(Math.abs),
      },
      seed: 83,
    });
    const [p, q] = [await cut.prepare(w), await int8.prepare(w)];
    const x = matrix([37, 40], random(37 * 40, 84));
    const got = await Promise.all([
      cut.encode(p, x, { priority: "research" }),
      cut.encode(p, x, { top: 5 }),
      cut.encode(p, matrix([1, 40], x.data.slice(0, 40)), { top: 5 }),
    ]);
    const want = [
      await int8.encode(q, x),
      await int8.encode(q, x, { top: 5 }),
      await int8.encode(q, matrix([1, 40], x.data.slice(0, 40)), { top: 5 }),
    ];
    const plain = (c: SparseRows) => ({
      indices: c.indices.map((ix) => [...ix]),
      values: c.values.map((v) => [...v]),
    });
    for (let i = 0; i < 3; i++) assert.deepEqual(plain(got[i]), plain(want[i]), `call ${i}`);
    cut.release(p);
    int8.release(q);
  } finally {
    cut.close();
  }
});

Deno.test("int8 backends: close (last test)", () => {
  int8.close();
  f32.close();
});
