/**
 * The load test's report: the stdout table and the files written.
 * @module
 */

import assert from "node:assert/strict";
import { formatTable, type LoadtestReport, type PhaseReport, writeReport } from "./report.ts";

const PHASE: PhaseReport = {
  backend: "webgpu",
  adapter: { name: "llvmpipe (LLVM 15.0.6, 256 bits)", software: true, source: "service" },
  reportedBackends: { wasm: 88 },
  backendMismatch: true,
  requests: 100,
  ok: 88,
  errors: { "429": 12 },
  byKind: { encode: 50, steer: 50 },
  elapsedS: 2,
  reqPerS: 50,
  rowsPerS: 44,
  latencyMs: { p50: 1, p95: 2, p99: 3, max: 4, mean: 1.2 },
  histogram: [80, 8],
};

Deno.test("formatTable: errors by status and a warning when another backend answered", () => {
  const text = formatTable(PHASE, { concurrency: 8, rows: 1 }).join("\n");
  assert.match(text, /429: 12/);
  assert.match(text, /WARNING: asked for webgpu, the service reported wasm \(88\)/);
  assert.match(text, /^backend webgpu: 2\.0 s, concurrency 8, rows 1, served by wasm \(88\)/);
  assert.match(text, /adapter: llvmpipe \(LLVM 15\.0\.6, 256 bits\), software adapter\n/);
});

Deno.test("writeReport: loadtest.json and loadtest.svg, listed in the report", async () => {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-report-" });
  try {
    const report: LoadtestReport = {
      url: "http://127.0.0.1:1",
      dictionary: "d",
      dIn: 4,
      dSae: 8,
      rows: 1,
      concurrency: 8,
      durationS: 2,
      mix: ["encode"],
      seed: 0,
      requestTimeoutMs: 1000,
      startedAt: "2024-01-01T00:00:00.000Z",
      histogramEdgesMs: [1, 10, 100],
      phases: [PHASE],
      files: [],
    };
    const written = await writeReport(report, `${dir}/out`);
    assert.deepEqual(written.files, [`${dir}/out/loadtest.json`, `${dir}/out/loadtest.svg`]);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/out/loadtest.json`));
    assert.deepEqual(json, JSON.parse(JSON.stringify(written)));
    const svg = await Deno.readTextFile(`${dir}/out/loadtest.svg`);
    assert.match(svg, />webgpu \(served by wasm\) \(n=88\): p50 1 ms, p95 2 ms, p99 3 ms</);
    assert.match(
      svg,
      /class="legend-detail"[^>]*>llvmpipe \(LLVM 15\.0\.6, 256 bits\), software adapter</,
    );
    assert.equal(svg.match(/<line class="marker"/g)?.length, 3);
    assert.match(svg, /d: latency, 1 row\(s\), concurrency 8, mix encode/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
