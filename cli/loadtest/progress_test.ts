/**
 * The load test's live progress line and its writer: rewritten in place on a terminal, whole
 * lines every few seconds elsewhere.
 * @module
 */

import assert from "node:assert/strict";
import { progressLine, progressWriter } from "./progress.ts";

Deno.test("progressLine: requests, req/s, p50, p99 and errors so far", () => {
  const latencies = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(
    progressLine({
      backend: "wasm",
      elapsedS: 4.6,
      durationS: 30,
      requests: 103,
      latencies,
      errors: 3,
    }),
    "wasm 4/30 s: 103 requests, 22.4 req/s, p50 50.0 ms, p99 99.0 ms, 3 errors",
  );
  assert.equal(
    progressLine({
      backend: "webgpu",
      elapsedS: 1,
      durationS: 2,
      requests: 1,
      latencies: [],
      errors: 1,
    }),
    "webgpu 1/2 s: 1 requests, 1.0 req/s, p50 - ms, p99 - ms, 1 error",
  );
});

Deno.test("progressWriter: one line rewritten on a terminal, cleared at the end", () => {
  const out: string[] = [];
  const sink = progressWriter({ write: (t) => out.push(t), tty: true });
  sink("a", false);
  sink("b", false);
  sink("c", true);
  assert.deepEqual(out, ["\ra\x1b[K", "\rb\x1b[K", "\r\x1b[K"]);
});

Deno.test("progressWriter: off a terminal, the first line and every n-th of each phase", () => {
  const out: string[] = [];
  const sink = progressWriter({ write: (t) => out.push(t), tty: false, every: 3 });
  for (const l of ["1", "2", "3", "4", "5", "6"]) sink(l, false);
  sink("end", true);
  sink("next", false);
  assert.deepEqual(out, ["1\n", "3\n", "6\n", "next\n"]);
});
