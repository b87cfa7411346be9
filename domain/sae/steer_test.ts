import assert from "node:assert/strict";
import { SaeError } from "../errors.ts";
import { applyProjections, checkInterventions, steeringDeltas } from "./steer.ts";
import type { SparseRows } from "./matrix.ts";

const codes: SparseRows = {
  width: 8,
  indices: [Int32Array.from([3, 1]), Int32Array.from([5])],
  values: [Float32Array.from([2, 1]), Float32Array.from([4])],
};

Deno.test("deltas: clamp sets, scale multiplies, ablate zeroes, add adds", () => {
  const d = steeringDeltas(
    [
      { feature: 3, mode: "clamp", value: 5 },
      { feature: 1, mode: "scale", value: 3 },
      { feature: 5, mode: "ablate", value: 0 },
      { feature: 7, mode: "add", value: 1.5 },
    ],
    2,
    { codes },
  );
  assert.deepEqual([...d.indices[0]], [3, 1, 7]);
  assert.deepEqual([...d.values[0]], [3, 2, 1.5]);
  assert.deepEqual([...d.indices[1]], [3, 5, 7]);
  assert.deepEqual([...d.values[1]], [5, -4, 1.5]);
});

Deno.test("deltas compose in order on the same feature and respect positions", () => {
  const d = steeringDeltas(
    [
      { feature: 3, mode: "clamp", value: 10 },
      { feature: 3, mode: "scale", value: 0.5 },
      { feature: 3, mode: "add", value: 1, positions: [1] },
    ],
    2,
    { codes },
  );
  // Row 0: 2 -> 10 -> 5; row 1: 0 -> 10 -> 5 -> 6.
  assert.deepEqual([...d.values[0]], [3]);
  assert.deepEqual([...d.values[1]], [6]);
});

Deno.test("edits that end where they started produce no delta", () => {
  const d = steeringDeltas([{ feature: 3, mode: "scale", value: 1 }], 2, { codes });
  assert.equal(d.indices[0].length, 0);
});

Deno.test("checkInterventions rejects out-of-range features and positions and non-finite values", () => {
  const bad = [
    [{ feature: 8, mode: "add", value: 1 }],
    [{ feature: -1, mode: "add", value: 1 }],
    [{ feature: 0, mode: "add", value: 1, positions: [2] }],
    [{ feature: 0, mode: "add", value: Infinity }],
    [{ feature: 0, mode: "boost", value: 1 }],
  ];
  for (const ivs of bad) {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => checkInterventions(ivs as any, { rows: 2, dSae: 8 }),
      (e) => e instanceof SaeError && e.kind === "invalid",
      JSON.stringify(ivs),
    );
  }
});

Deno.test("relative scales by the row's largest latent; when steers only rows meeting the condition", () => {
  // Row 0 has feature 3 at 2 (condition holds), row 1 lacks it (condition fails).
  const d = steeringDeltas(
    [
      { feature: 7, mode: "add", value: 0.5, relative: true },
      { feature: 9, mode: "add", value: 1, when: { feature: 3, op: ">", value: 1 } },
    ],
    2,
    { codes },
  );
  const max = (r: number) => Math.max(...codes.values[r]);
  const at3 = (
    r: number,
  ) => (codes.indices[r].indexOf(3) >= 0 ? codes.values[r][codes.indices[r].indexOf(3)] : 0);
  for (let r = 0; r < 2; r++) {
    const ix = [...d.indices[r]];
    assert.equal(d.values[r][ix.indexOf(7)], Math.fround(0.5 * max(r)));
    assert.equal(ix.includes(9), at3(r) > 1, `row ${r} conditional edit`);
  }
});

Deno.test("unit norm divides add and clamp values by the decoder row's norm", () => {
  const d = steeringDeltas([{ feature: 7, mode: "add", value: 3, unit: "norm" }], 1, {
    codes: null,
    decoderNorms: new Map([[7, 2]]),
  });
  assert.deepEqual([...d.values[0]], [1.5]);
});

Deno.test("orthogonal replaces and cap limits the component along the unit direction", () => {
  const u = Float32Array.from([0.6, 0.8]);
  const x = { rows: 2, cols: 2, data: Float32Array.from([3, 4, -3, -4]) }; // x.u = 5 and -5
  applyProjections(x, [{ feature: 0, mode: "orthogonal", value: 1 }], {
    codes: null,
    directions: new Map([[0, u]]),
  });
  assert.deepEqual([...x.data].map((v) => Math.round(v * 1e5) / 1e5), [0.6, 0.8, 0.6, 0.8]);
  const y = { rows: 2, cols: 2, data: Float32Array.from([3, 4, -3, -4]) };
  applyProjections(y, [{ feature: 0, mode: "cap", value: 2 }], {
    codes: null,
    directions: new Map([[0, u]]),
  });
  // Row 0 projection 5 is capped to 2; row 1 (-5) is under the cap and unchanged.
  assert.deepEqual([...y.data].map((v) => Math.round(v * 1e5) / 1e5), [1.2, 1.6, -3, -4]);
});
