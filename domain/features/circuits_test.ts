import assert from "node:assert/strict";
import { edgeScores, nodeCounts } from "./circuits.ts";

// 4 examples (2 positive, 2 negative) x 3 heads of argmax codes.
const codes = [
  Int32Array.of(5, 1, 7),
  Int32Array.of(6, 1, 7),
  Int32Array.of(5, 2, 7),
  Int32Array.of(9, 2, 8),
];
const labels = [1, 1, 0, 0];

Deno.test("circuits: node score counts codes seen on positives and never on negatives", () => {
  // head 0: positives {5, 6}, negatives {5, 9} -> 6 only -> 1
  // head 1: positives {1}, negatives {2} -> 1
  // head 2: positives {7}, negatives {7, 8} -> 0
  assert.deepEqual(nodeCounts(codes, labels, { heads: 3 }), [1, 1, 0]);
});

Deno.test("circuits: edge score counts positive-only code pairs and tallies heads over the top half", () => {
  const { pairs, tally } = edgeScores(codes, labels, { heads: 3 });
  // (0,1): pos {5,1},{6,1}; neg {5,2},{9,2} -> 2. (0,2): pos {5,7},{6,7}; neg {5,7},{9,8} -> 1.
  // (1,2): pos {1,7}; neg {2,7},{2,8} -> 1.
  assert.deepEqual(pairs.map((p) => [p.heads, p.count]), [[[0, 1], 2], [[0, 2], 1], [[1, 2], 1]]);
  // Top ceil(3 / 2) = 2 pairs: (0,1), (0,2) -> head 0 twice, heads 1 and 2 once.
  assert.deepEqual(tally, [2, 1, 1]);
});
