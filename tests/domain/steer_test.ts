import assert from "node:assert/strict";
import { SaeError } from "../../domain/errors.ts";
import { checkInterventions, steeringDeltas } from "../../domain/steer.ts";
import type { SparseRows } from "../../domain/matrix.ts";

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
    codes,
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
    codes,
  );
  // Row 0: 2 -> 10 -> 5; row 1: 0 -> 10 -> 5 -> 6.
  assert.deepEqual([...d.values[0]], [3]);
  assert.deepEqual([...d.values[1]], [6]);
});

Deno.test("edits that end where they started produce no delta", () => {
  const d = steeringDeltas([{ feature: 3, mode: "scale", value: 1 }], 2, codes);
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
