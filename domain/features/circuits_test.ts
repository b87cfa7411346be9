/**
 * Circuit scoring on hand-made codes (node counts, edge tallies with ties at the cut), the
 * option rules every caller applies, and divergence on a tiny random input.
 * @module
 */

import assert from "node:assert/strict";
import { discoverCircuit, discoverOptionsProblem, edgeScores, nodeCounts } from "./circuits.ts";
import { SaeError } from "../errors.ts";
import { seededRandom } from "../random.ts";
import { referenceBackend } from "../../backends/reference/mod.ts";

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
  const { pairs, tally, top } = edgeScores(codes, labels, { heads: 3 });
  // (0,1): pos {5,1},{6,1}; neg {5,2},{9,2} -> 2. (0,2): pos {5,7},{6,7}; neg {5,7},{9,8} -> 1.
  // (1,2): pos {1,7}; neg {2,7},{2,8} -> 1.
  assert.deepEqual(pairs.map((p) => [p.heads, p.count]), [[[0, 1], 2], [[0, 2], 1], [[1, 2], 1]]);
  // Top ceil(3 / 2) = 2 places: (0,1) takes one; (0,2) and (1,2) tie for the other, so each is
  // tallied 1/2 (head 0 used to get (0,2) whole, by index: [2, 1, 1]).
  assert.deepEqual(tally, [1.5, 1.5, 1]);
  assert.deepEqual(top.map((p) => p.heads), [[0, 1]]);
});

Deno.test("circuits: pairs with equal counts tally alike, whatever the heads' indices", () => {
  // One positive and one negative example, every head coded differently on each: every pair
  // has count 1, so no head has more evidence than another.
  const tied = [Int32Array.of(0, 0, 0, 0), Int32Array.of(1, 1, 1, 1)];
  const { tally, top } = edgeScores(tied, [1, 0], { heads: 4 });
  assert.deepEqual(tally, [1.5, 1.5, 1.5, 1.5]); // each head in 3 of 6 pairs, each worth 3/6
  assert.deepEqual(top, []);
  // Renumbering the heads renumbers the tallies, nothing else (here a tie group straddles the
  // cut: (0,1) and (1,2) count 2, the four other pairs 1, for 3 places).
  const rows = [
    Int32Array.of(1, 1, 1, 1),
    Int32Array.of(2, 2, 2, 2),
    Int32Array.of(1, 3, 1, 4),
    Int32Array.of(1, 1, 1, 1),
  ];
  const y = [1, 1, 0, 0];
  const base = edgeScores(rows, y, { heads: 4 }).tally;
  const order = [3, 1, 0, 2]; // new head j is old head order[j]
  const renumbered = rows.map((r) => Int32Array.from(order, (h) => r[h]));
  const moved = edgeScores(renumbered, y, { heads: 4 }).tally;
  assert.deepEqual(moved, order.map((h) => base[h]));
});

Deno.test("circuits: options out of range are refused, named as the caller names them", () => {
  const names = { trainExamples: "--train-examples", latents: "--latents", l1: "--l1" };
  const problem = (options: Record<string, number>) =>
    discoverOptionsProblem({ examples: 80 }, { ...options, optionNames: names });
  assert.equal(problem({}), null);
  assert.equal(problem({ trainExamples: 80, latents: 2, l1: 0 }), null);
  assert.match(problem({ trainExamples: 1000 })!, /^--train-examples 1000 is more than the 80 /);
  assert.match(
    problem({ trainExamples: 1 })!,
    /^--train-examples must be an integer of at least 2/,
  );
  assert.match(problem({ latents: 1 })!, /^--latents must be an integer of at least 2, not 1/);
  assert.match(problem({ l1: -0.1 })!, /^--l1 must be a number >= 0/);
  // Absent, 10 training examples or every example when fewer (as before); given, at most all.
  assert.equal(discoverOptionsProblem({ examples: 8 }, {}), null);
  assert.match(
    discoverOptionsProblem({ examples: 8 }, { trainExamples: 9 })!,
    /^trainExamples 9 is more than the 8 examples/,
  );
});

Deno.test("circuits: a diverging run is an invalid SaeError naming the learning rate", async () => {
  const uniform = seededRandom(3);
  const x = {
    examples: 8,
    heads: 3,
    dModel: 4,
    data: Float32Array.from({ length: 8 * 3 * 4 }, () => uniform() - 0.5),
  };
  const labels = [1, 0, 1, 0, 1, 0, 1, 0];
  const base = { labels, latents: 6, epochs: 10, trainExamples: 8 };
  const ok = await discoverCircuit(referenceBackend(), x, base);
  assert.equal(ok.heads.length, 3);
  for (const lr of [1e9, 1e300]) {
    await assert.rejects(
      discoverCircuit(referenceBackend(), x, { ...base, lr, optionNames: { lr: "--lr" } }),
      (e: unknown) =>
        e instanceof SaeError && e.kind === "invalid" &&
        /^training diverged \(.*\); lower --lr \(it was 1\.00e\+(9|300)\)$/.test(e.message),
    );
  }
});
