/**
 * How kernel calls are cut into jobs and rounds (wasm/rounds.ts): the ranges cover everything
 * exactly once, respect their bounds, and compaction rounds never overwrite unread values.
 * @module
 */

import assert from "node:assert/strict";
import { blockRows, compactionRounds, splitByWork, splitColumns } from "./rounds.ts";

function covers(ranges: [number, number][], end: number): void {
  let at = 0;
  for (const [a, b] of ranges) {
    assert.equal(a, at, `range starts at ${a}, expected ${at}`);
    assert.ok(b > a, `empty range [${a}, ${b})`);
    at = b;
  }
  assert.equal(at, end);
}

Deno.test("splitColumns: whole panels, contiguous, at most one part per panel", () => {
  for (const [n, parts] of [[40, 3], [1027, 16], [8, 4], [16384, 2], [5, 1]]) {
    const ranges = splitColumns(n, parts);
    covers(ranges, Math.ceil(n / 8) * 8);
    assert.ok(ranges.length <= parts);
    for (const [a, b] of ranges) assert.ok(a % 8 === 0 && b % 8 === 0);
  }
  assert.equal(splitColumns(8, 4).length, 1);
});

Deno.test("blockRows: within rows and bytes, never zero", () => {
  const limits = { rowBytes: 1000, maxRows: 256, maxBytes: 64 << 20 };
  assert.equal(blockRows(1, limits), 1);
  assert.equal(blockRows(10_000, limits), 256);
  assert.equal(blockRows(10_000, { ...limits, rowBytes: 1 << 24 }), 4);
  assert.equal(blockRows(10_000, { ...limits, rowBytes: 1 << 30 }), 1);
});

Deno.test("splitByWork: contiguous ranges of about equal work", () => {
  const work = Float64Array.from({ length: 100 }, (_, i) => (i % 7) + 1);
  for (const parts of [1, 2, 3, 16, 200]) {
    const ranges = splitByWork(work, parts);
    covers(ranges, 100);
    assert.ok(ranges.length <= Math.min(parts, 100));
  }
  const even = splitByWork(new Float64Array(12).fill(5), 4);
  assert.deepEqual(even, [[0, 3], [3, 6], [6, 9], [9, 12]]);
  assert.deepEqual(splitByWork(new Float64Array(3), 2), [[0, 3]], "no work: one range");
  assert.deepEqual(splitByWork([], 3), []);
});

Deno.test("compactionRounds: in order, every write lands on values read in earlier rounds", () => {
  for (
    const [count, parts, chunk] of [[1, 2, 4096], [100_000, 3, 4096], [10_000_000, 16, 1 << 22]]
  ) {
    const rounds = compactionRounds(count, { parts, chunk });
    covers(rounds.flat(), count);
    let done = 0;
    for (const round of rounds) {
      const start = round[0][0];
      const end = round[round.length - 1][1];
      assert.equal(start, done);
      assert.ok(round.length <= parts);
      // Elements [start, end) are written at bytes [2 start, 2 end): values below `start`.
      assert.ok(start === 0 ? round.length === 1 : end <= 2 * start, `round [${start}, ${end})`);
      done = end;
    }
  }
});
